# Stand-in for an OpenWRT SDK's include/package.mk, for tests/check-openwrt-package.sh only. It takes
# a recipe the way the SDK does (GNU make, $(eval $(call BuildPackage,NAME))) and, instead of building
# an .ipk, offers the steps to the check one at a time:
#   sdk-dump       the package's fields and defines, one "NAME=value" line each ("NAME<<" ... "NAME>>"
#                  around multi-line defines)
#   sdk-prepare    Build/Prepare into PKG_BUILD_DIR
#   sdk-configure  Build/Configure against STAGING_DIR
#   sdk-compile    Build/Compile
#   sdk-install    Package/NAME/install into SDK_ROOT (the package's file tree)
# As in the SDK's rules.mk/package.mk: a missing TITLE, CATEGORY or SECTION stops the recipe.
INSTALL_DIR := install -d -m0755
INSTALL_BIN := install -m0755
INSTALL_DATA := install -m0644
INSTALL_CONF := install -m0600
CP := cp -fpR
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)

define Build/Configure
endef

define BuildPackage
$(eval $(Package/$(1)))
$(foreach f,TITLE CATEGORY SECTION,$(if $($(f)),,$(error Package/$(1) is missing the $(f) field)))
.PHONY: sdk-dump sdk-prepare sdk-configure sdk-compile sdk-install
export SDK_CONFFILES := $$(Package/$(1)/conffiles)
export SDK_DESCRIPTION := $$(Package/$(1)/description)
sdk-dump:
	@printf '%s\n' 'PACKAGE=$(1)' 'PKG_NAME=$(PKG_NAME)' 'PKG_VERSION=$(PKG_VERSION)' 'PKG_RELEASE=$(PKG_RELEASE)' \
		'PKG_LICENSE=$(PKG_LICENSE)' 'PKG_LICENSE_FILES=$(PKG_LICENSE_FILES)' 'PKG_MAINTAINER=$(PKG_MAINTAINER)' \
		'PKG_FILE_DEPENDS=$(strip $(PKG_FILE_DEPENDS))' 'SECTION=$(SECTION)' 'CATEGORY=$(CATEGORY)' \
		'TITLE=$(TITLE)' 'DEPENDS=$(strip $(DEPENDS))' 'EXTRA_DEPENDS=$(strip $(EXTRA_DEPENDS))'
	@printf 'CONFFILES<<\n%s\nCONFFILES>>\n' "$$$$SDK_CONFFILES"
	@printf 'DESCRIPTION<<\n%s\nDESCRIPTION>>\n' "$$$$SDK_DESCRIPTION"
sdk-prepare:
	$$(Build/Prepare)
sdk-configure:
	$$(Build/Configure)
sdk-compile:
	$$(Build/Compile)
sdk-install:
	$$(call Package/$(1)/install,$$(SDK_ROOT))
endef
