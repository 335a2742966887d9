# Stand-in for an OpenWRT SDK's rules.mk, for tests/check-openwrt-package.sh only: the directories a
# package recipe refers to, all under the check's temporary directory (SDK_WORK).
INCLUDE_DIR := $(TOPDIR)/include
BUILD_DIR := $(SDK_WORK)/build
STAGING_DIR := $(SDK_WORK)/staging
TARGET_CC ?= cc
TARGET_CFLAGS ?= -Os -pipe
TARGET_CPPFLAGS ?=
TARGET_LDFLAGS ?=
MAKE ?= make
