# agent/Makefile fragment (included there): the uci apply module's tests, test_apply.c against the
# Python stand-ins in agent/standins (uci, wifi, ubus on real uci files in a temporary directory),
# natively (with the strace durability check) and as a static musl mipsel binary under qemu-mipsel.
# Sources and flags: sources.mk.

APPLY_TEST_SRCS := tests/test_apply.c $(FB_APPLY_SRCS) $(FB_APPLY_USES)
# Cases run as separate processes, APPLY_JOBS at a time (they wait on stand-ins and timeouts, not CPU).
APPLY_JOBS ?= 8

.PHONY: test-apply test-apply-musl test-apply-musl-dynamic

$(BUILD)/apply-native/test_apply: $(APPLY_TEST_SRCS) $(FB_HDRS) sources.mk
	@mkdir -p $(@D)
	$(CC) $(FB_CFLAGS) $(FB_WARN) -O2 -g -o $@ $(APPLY_TEST_SRCS) $(FB_APPLY_LIBS)

# The start-up order case runs the whole agent (FB_AGENT_BIN): natively the native build.
test-apply: $(BUILD)/apply-native/test_apply $(BUILD)/native/omega-agent
	@FB_AGENT_BIN=$(abspath $(BUILD)/native/omega-agent) tests/run-cases.sh $(APPLY_JOBS) \
		$(BUILD)/apply-native/test_apply standins tests/golden
	@tests/check-durability.sh $(BUILD)/apply-native/test_apply standins tests/golden

# qemu-mipsel runs the static musl test binary (no -L: it needs nothing); the Python stand-ins it
# forks start through the host kernel's shebang handling (execve of a script needs no emulation). The
# start-up order case runs the static musl agent through a script that starts it under qemu-mipsel,
# so the device binary is what is checked.
MUSL_AGENT_RUNNER := $(BUILD)/apply-musl/omega-agent-qemu

$(BUILD)/apply-musl/test_apply: $(APPLY_TEST_SRCS) $(FB_HDRS) sources.mk | musl-libs
	@mkdir -p $(@D)
	$(MUSL_CC) $(FB_CFLAGS) $(FB_WARN) -O2 -g $(MUSL_STATIC_FLAGS) -o $@ $(APPLY_TEST_SRCS) $(FB_APPLY_LIBS)

$(MUSL_AGENT_RUNNER): $(BUILD)/musl-static/omega-agent
	@mkdir -p $(@D)
	@printf '#!/bin/sh\nexec %s %s "$$@"\n' "$(QEMU)" "$(abspath $<)" >$@
	@chmod +x $@

test-apply-musl: $(BUILD)/apply-musl/test_apply $(MUSL_AGENT_RUNNER)
	@FB_AGENT_BIN=$(abspath $(MUSL_AGENT_RUNNER)) tests/run-cases.sh $(APPLY_JOBS) \
		$(QEMU) $(BUILD)/apply-musl/test_apply standins tests/golden

# The same cases on the dynamic build for OpenWRT >= 23.05: test_apply linked like the dynamic agent,
# under qemu-mipsel -L with the device-like sysroot; the start-up order case runs the dynamic agent.
MUSL_DYNAMIC_AGENT_RUNNER := $(BUILD)/apply-musl-dynamic/omega-agent-qemu

$(BUILD)/apply-musl-dynamic/test_apply: $(APPLY_TEST_SRCS) $(FB_HDRS) sources.mk | musl-shared-libs
	@mkdir -p $(@D)
	$(MUSL_SHARED_CC) $(FB_CFLAGS) $(FB_WARN) -O2 -g $(MUSL_DYNAMIC_FLAGS) -o $@ $(APPLY_TEST_SRCS) $(FB_APPLY_LIBS)

$(MUSL_DYNAMIC_AGENT_RUNNER): $(BUILD)/musl-dynamic/omega-agent
	@mkdir -p $(@D)
	@printf '#!/bin/sh\nexec %s -L %s %s "$$@"\n' "$(QEMU)" "$(abspath $(MUSL_SYSROOT))" "$(abspath $<)" >$@
	@chmod +x $@

test-apply-musl-dynamic: $(BUILD)/apply-musl-dynamic/test_apply $(MUSL_DYNAMIC_AGENT_RUNNER)
	@FB_AGENT_BIN=$(abspath $(MUSL_DYNAMIC_AGENT_RUNNER)) tests/run-cases.sh $(APPLY_JOBS) \
		$(QEMU) -L $(abspath $(MUSL_SYSROOT)) $(BUILD)/apply-musl-dynamic/test_apply standins tests/golden
