# Makefile fragment: the uci apply module's tests (native and mipsel under qemu).
# Include it from agent/Makefile (`include tests/apply.mk`) or run it alone:
#   make -f agent/tests/apply.mk test-apply
#   make -f agent/tests/apply.mk test-apply-mipsel MIPSEL_SYSROOT=agent/build/sysroot
# Targets: test-apply, test-apply-mipsel, apply-objs-check (compile only), clean-apply.

APPLY_TESTS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
APPLY_AGENT_DIR := $(patsubst %/,%,$(dir $(APPLY_TESTS_DIR)))
APPLY_SRC_DIR := $(APPLY_AGENT_DIR)/src
APPLY_BUILD_DIR ?= $(APPLY_AGENT_DIR)/build

APPLY_CC ?= gcc
APPLY_MIPSEL_CC ?= mipsel-linux-gnu-gcc
APPLY_QEMU ?= qemu-mipsel
MIPSEL_SYSROOT ?= $(APPLY_AGENT_DIR)/build/sysroot
APPLY_CFLAGS ?= -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -O2 -g
APPLY_LIBS = -ljson-c -lcrypto

# Module sources (no main). reason.c comes from the agent core when present; otherwise a stand-in
# definition of fb_reason_name from tests/test_support.c.
APPLY_MODULE_SRCS := $(APPLY_SRC_DIR)/apply.c $(APPLY_SRC_DIR)/uci_cli.c $(APPLY_SRC_DIR)/proc.c
APPLY_REASON_SRC := $(firstword $(wildcard $(APPLY_SRC_DIR)/reason.c) $(APPLY_TESTS_DIR)/test_support.c)
APPLY_TEST_SRCS := $(APPLY_TESTS_DIR)/test_apply.c $(APPLY_MODULE_SRCS) $(APPLY_REASON_SRC)
APPLY_HDRS := $(wildcard $(APPLY_SRC_DIR)/*.h)

APPLY_NATIVE_BIN := $(APPLY_BUILD_DIR)/apply-native/test_apply
# the whole agent with the real apply module, for the start-up order test (native only)
APPLY_AGENT_BIN := $(APPLY_BUILD_DIR)/apply-native/omega-agent
APPLY_MIPSEL_BIN := $(APPLY_BUILD_DIR)/apply-mipsel/test_apply

.PHONY: test-apply test-apply-mipsel apply-objs-check clean-apply

$(APPLY_NATIVE_BIN): $(APPLY_TEST_SRCS) $(APPLY_HDRS)
	@mkdir -p $(dir $@)
	$(APPLY_CC) $(APPLY_CFLAGS) -I$(APPLY_SRC_DIR) -o $@ $(APPLY_TEST_SRCS) $(APPLY_LIBS)

$(APPLY_MIPSEL_BIN): $(APPLY_TEST_SRCS) $(APPLY_HDRS)
	@mkdir -p $(dir $@)
	$(APPLY_MIPSEL_CC) $(APPLY_CFLAGS) -I$(APPLY_SRC_DIR) -I$(MIPSEL_SYSROOT)/usr/include \
		-I$(MIPSEL_SYSROOT)/usr/include/mipsel-linux-gnu -o $@ $(APPLY_TEST_SRCS) \
		-L$(MIPSEL_SYSROOT)/usr/lib/mipsel-linux-gnu -Wl,-rpath-link,$(MIPSEL_SYSROOT)/usr/lib/mipsel-linux-gnu \
		$(APPLY_LIBS)

$(APPLY_AGENT_BIN): $(wildcard $(APPLY_SRC_DIR)/*.c) $(APPLY_HDRS)
	@mkdir -p $(dir $@)
	$(APPLY_CC) $(APPLY_CFLAGS) -I$(APPLY_SRC_DIR) -o $@ $(wildcard $(APPLY_SRC_DIR)/*.c) -lmosquitto $(APPLY_LIBS)

# Cases run as separate processes, APPLY_JOBS at a time (they wait on stand-ins and timeouts, not CPU).
APPLY_JOBS ?= 8

test-apply: $(APPLY_NATIVE_BIN) $(APPLY_AGENT_BIN)
	@FB_AGENT_BIN=$(abspath $(APPLY_AGENT_BIN)) $(APPLY_TESTS_DIR)/run-cases.sh $(APPLY_JOBS) \
		$(APPLY_NATIVE_BIN) $(APPLY_AGENT_DIR)/standins $(APPLY_TESTS_DIR)/golden
	@$(APPLY_TESTS_DIR)/check-durability.sh $(APPLY_NATIVE_BIN) $(APPLY_AGENT_DIR)/standins $(APPLY_TESTS_DIR)/golden

# qemu-mipsel runs the test binary; the Python stand-ins it forks start through the host
# kernel's shebang handling (execve of a script needs no emulation). The start-up order case runs
# the cross-built agent (MIPSEL_AGENT, from scripts/build-mipsel.sh) through a script that starts it
# under qemu-mipsel, so the device binary is what is checked.
MIPSEL_AGENT ?= $(APPLY_AGENT_DIR)/build/mipsel/omega-agent
MIPSEL_AGENT_RUNNER := $(APPLY_BUILD_DIR)/apply-mipsel/omega-agent-qemu

$(MIPSEL_AGENT_RUNNER): $(MIPSEL_AGENT)
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec %s -L %s %s "$$@"\n' "$(APPLY_QEMU)" "$(abspath $(MIPSEL_SYSROOT))" "$(abspath $(MIPSEL_AGENT))" >$@
	@chmod +x $@

test-apply-mipsel: $(APPLY_MIPSEL_BIN) $(MIPSEL_AGENT_RUNNER)
	@QEMU_LD_PREFIX=/usr/mipsel-linux-gnu LD_LIBRARY_PATH=$(abspath $(MIPSEL_SYSROOT))/usr/lib/mipsel-linux-gnu \
		FB_AGENT_BIN=$(abspath $(MIPSEL_AGENT_RUNNER)) $(APPLY_TESTS_DIR)/run-cases.sh $(APPLY_JOBS) \
		$(APPLY_QEMU) -L /usr/mipsel-linux-gnu $(APPLY_MIPSEL_BIN) $(APPLY_AGENT_DIR)/standins $(APPLY_TESTS_DIR)/golden

apply-objs-check:
	$(APPLY_CC) $(APPLY_CFLAGS) -I$(APPLY_SRC_DIR) -fsyntax-only $(APPLY_MODULE_SRCS)

clean-apply:
	rm -f $(APPLY_NATIVE_BIN) $(APPLY_MIPSEL_BIN)
