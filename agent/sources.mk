# The agent's one build description: what goes into omega-agent and how it is compiled. Included by
# agent/Makefile (native, sanitizer, musl and release builds; unit tests) and tests/apply.mk (the
# uci module's tests); scripts/build-musl.sh prepares the musl toolchain and libraries; the OpenWRT package calls agent/Makefile.
# Paths are relative to agent/.

FB_SRC_DIR := src
# Every source is part of the product: a unit-test double (tests/fake_apply.c) never is.
FB_SRCS := $(sort $(wildcard $(FB_SRC_DIR)/*.c))
FB_HDRS := $(wildcard $(FB_SRC_DIR)/*.h)
FB_MAIN := $(FB_SRC_DIR)/main.c
# The uci module (apply.h is its whole interface): unit tests of the agent core link tests/fake_apply.c
# in its place, tests/apply.mk tests it against the uci/wifi/ubus stand-ins.
FB_APPLY_SRCS := $(addprefix $(FB_SRC_DIR)/,apply.c apply_ca.c apply_layout.c apply_txn.c apply_verify.c proc.c \
                   uci_cli.c)
# What the uci module uses from the rest of the agent.
FB_APPLY_USES := $(addprefix $(FB_SRC_DIR)/,b64.c fsutil.c hpke.c json_util.c log.c profile.c reason.c)
FB_CORE_SRCS := $(filter-out $(FB_MAIN) $(FB_APPLY_SRCS),$(FB_SRCS))

# C11 with GNU extensions of libc; 64-bit file offsets (32-bit mipsel under qemu on a 64-bit host:
# readdir fails with EOVERFLOW otherwise).
FB_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I$(FB_SRC_DIR)
FB_WARN := -Wall -Wextra -Werror
# Device builds: small.
FB_SIZE_CFLAGS := -Os -ffunction-sections -fdata-sections
FB_SIZE_LDFLAGS := -Wl,--gc-sections
FB_LIBS := -lmosquitto -lssl -lcrypto -ljson-c
FB_APPLY_LIBS := -ljson-c -lcrypto
