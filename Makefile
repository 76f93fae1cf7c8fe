# The two commands (see README): `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test setup translations chromium pango oidc-provider serve bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d crm/translations

setup: $(VENV)/.installed translations pango

## make run: set up, migrate, seed, load demo data and serve on http://127.0.0.1:5000 (SQLite)
run: setup
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) demo
	$(FLASK) run --host 127.0.0.1 --port 5000

## make test: set up (incl. Debian's chromium for the browser test) and run the whole suite
test: setup chromium oidc-provider
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The browser test drives Debian's chromium; install it when missing (root on Debian/CI).
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "chromium missing: install it with 'sudo apt-get install chromium' (browser tests will be skipped)"; fi; }

# WeasyPrint (PDFs of reports) needs Pango and a font; install them when missing (root on Debian/CI).
pango:
	@{ ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' && { command -v fc-list >/dev/null 2>&1 && [ -n "$$(fc-list)" ]; }; } || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fontconfig fonts-dejavu-core >/dev/null; \
	    else echo "Pango missing: install it with 'sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core' (PDF reports will fail)"; fi; }

# The OpenID Provider the sign-in tests start (tests/oidc_provider): its npm packages, pinned by
# package-lock.json, installed into that folder (npm's cache too). Without Node.js the tests are
# skipped, except under CI, where they fail.
OIDC_PROVIDER := tests/oidc_provider
oidc-provider:
	@if command -v npm >/dev/null 2>&1; then \
	  [ -d $(OIDC_PROVIDER)/node_modules/oidc-provider ] || \
	  npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --prefer-offline --cache $(CURDIR)/$(OIDC_PROVIDER)/.npm-cache >/dev/null; \
	else echo "Node.js/npm missing: the OpenID Connect provider tests will be skipped (they fail under CI)"; fi

bench: setup
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache
