# privacy-milter: the two commands are `make run` and `make test` (see README.md).
# Everything they need is installed here: Debian packages, then a venv in .venv.

SHELL      := /bin/bash
PYTHON     ?= /usr/bin/python3
VENV       ?= .venv
POLICY     ?= policy.toml
# `make run` keeps its state in the checkout (both folders are in .gitignore), never in the
# production paths: a root-owned key or store there stops the real daemon from starting.
RUN_DIR    ?= $(CURDIR)/run
STATE_DIR  ?= $(CURDIR)/var
# e.g. SOCKET=inet:10029@127.0.0.1 to attach a Postfix whose smtpd runs chrooted
SOCKET     ?=
DEV_POLICY := $(RUN_DIR)/policy.toml
SOCKET_ARG := $(if $(SOCKET),--socket $(SOCKET))
PY         := $(VENV)/bin/python
PYTEST_ARGS ?=

# What the daemon needs to build and run (pymilter compiles against libmilter).
RUN_PKGS  := python3 python3-venv python3-dev gcc libmilter-dev
# What the tests start for real: Postfix, clamd, spamd, PostgreSQL, swaks as an SMTP client,
# and headless Chromium to render the summary email's HTML part.
TEST_PKGS := $(RUN_PKGS) postfix clamav-daemon spamd spamassassin rspamd swaks util-linux sasl2-bin libsasl2-modules postgresql chromium

.PHONY: run test eval bench system-run system-test venv check clean

run: system-run $(VENV)/.installed
	@$(PY) -m privacy_milter.devrun --policy $(POLICY) --run-dir $(RUN_DIR) --state-dir $(STATE_DIR) --out $(DEV_POLICY)
	@$(PY) -m privacy_milter.deploy_hint --policy $(DEV_POLICY) $(SOCKET_ARG)
	exec $(VENV)/bin/privacy-milter run --policy $(DEV_POLICY) $(SOCKET_ARG)

test: system-test $(VENV)/.installed
	$(VENV)/bin/ruff check --quiet milter filters tests bench  # the rules: pyproject.toml [tool.ruff.lint]
	$(VENV)/bin/mypy milter/privacy_milter filters/privacy_filters
	$(PY) -m pytest $(PYTEST_ARGS)

eval: $(VENV)/.installed
	$(PY) bench/eval_dlp.py ../shared/corpus/dlp-dev

bench: $(VENV)/.installed
	$(PY) bench/dlp_speed.py --corpus ../shared/corpus/dlp-dev --attachment-mb 10 --runs 3

check: $(VENV)/.installed
	$(VENV)/bin/privacy-milter policy check $(POLICY)

# Debian packages: apt runs only when something is missing, so a second run is offline.
# Postfix is installed without debconf questions and without touching /etc/postfix/main.cf.
system-run:
	@scripts/apt-ensure $(RUN_PKGS)

system-test:
	@scripts/apt-ensure $(TEST_PKGS)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache

# `make deb`: dist/privacy-milter_VERSION_ARCH.deb, built with Debian's own tools from this
# checkout (docs/DEPLOY.md, debian/README.source). The tests build and check it as well
# (tests/integration/test_package.py: lintian, install/upgrade/purge in a debootstrap chroot).
DEB_PKGS := $(RUN_PKGS) python3-dev dpkg-dev debhelper fakeroot pandoc lintian debootstrap shellcheck
.PHONY: deb system-deb
deb: system-deb
	scripts/build-deb dist
system-deb:
	@scripts/apt-ensure $(DEB_PKGS)
system-test: system-deb
