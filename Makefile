# The project's two commands: `make demo` and `make test`. Both set everything up first and
# are safe to run again: Debian packages are installed only when missing, the virtualenv at
# .venv/ is created once and refreshed when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the project needs (checked with dpkg, installed with apt-get when missing).
# chromium + fonts-noto-cjk: rendering and evidence screenshots of Chinese pages;
# libpango*: WeasyPrint, which renders the 提取笔录 PDF.
APT_PACKAGES ?= chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0

.PHONY: demo test deps venv clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: deps $(STAMP)

# One full monitoring cycle on the bundled demo sites (started and stopped by the cycle):
# crawl every demo source into the default SQLite store, then the summary and sample searches.
demo: venv
	$(BIN)/python -m demo.cycle

# pytest exits 5 when it collected no test; make treats any non-zero exit as failure, so an
# empty run can never pass.
test: venv
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data/cache
