# The project's two commands: `make demo` and `make test`. Both set everything up first and
# are safe to run again: Debian packages are installed only when missing, the virtualenv at
# .venv/ is created once and refreshed when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the project needs (checked with dpkg, installed with apt-get when missing).
APT_PACKAGES ?=

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

# For now the demo classifies the bundled sample ads and look-alikes and prints each verdict
# with its hits highlighted (exit 1 from `classify` just means "flagged").
demo: venv
	@echo "== reprowatch 演示：对样例文本逐条分类 =="
	@while IFS= read -r line; do \
	  [ -n "$$line" ] || continue; \
	  $(BIN)/reprowatch classify --text "$$line"; rc=$$?; [ $$rc -le 1 ] || exit $$rc; echo; \
	done < tests/data/samples.txt
	@echo "== 开发语料评测 =="
	$(BIN)/reprowatch eval tests/data/corpus_dev.jsonl

# pytest exits 5 when it collected no test; make treats any non-zero exit as failure, so an
# empty run can never pass.
test: venv
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data/cache
