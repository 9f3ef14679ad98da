# Debian package of aster-exporter, built with `cpack -G DEB` (or
# `cmake --build build --target package`) from the build directory.
#
# Include at the end of the root CMakeLists.txt, after add_executable(aster-exporter):
#     include(packaging/cpack.cmake)
#
# Needs dpkg-dev (dpkg-shlibdeps computes the Depends: line from the libraries
# the binary links, e.g. libbpf1, libelf1, libprometheus-cpp-*, libyaml-cpp0.7).
#
# Installs:
#   /usr/bin/aster-exporter
#   /usr/lib/aster-exporter/libaster-civetweb-{ssl,crypto}.so  (OpenSSL 3 for
#       libcivetweb's TLS: README "Securing /metrics")
#   /lib/systemd/system/aster-exporter.service
#   /etc/aster-exporter/config.yaml            (conffile)
# The unit and the config use absolute destinations because Debian expects them
# outside the /usr prefix; `cmake --install` therefore writes there too.

if(NOT TARGET aster-exporter)
  message(FATAL_ERROR "packaging/cpack.cmake: include it after the aster-exporter target is defined")
endif()

set(ASTER_PACKAGING_DIR "${CMAKE_CURRENT_LIST_DIR}")

install(TARGETS aster-exporter RUNTIME DESTINATION bin)
# Found by the binary at <its dir>/../lib/aster-exporter (web/civetweb_openssl.h).
install(TARGETS aster_civetweb_ssl aster_civetweb_crypto LIBRARY DESTINATION lib/aster-exporter)
install(FILES "${ASTER_PACKAGING_DIR}/systemd/aster-exporter.service"
        DESTINATION /lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES "${ASTER_PACKAGING_DIR}/systemd/config.yaml"
        DESTINATION /etc/aster-exporter
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "aster-exporter")
set(CPACK_PACKAGE_VENDOR "aster-exporter")
if(PROJECT_VERSION)
  set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
else()
  set(CPACK_PACKAGE_VERSION "0.0.0")
endif()
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "eBPF-based HTTP metrics exporter for Prometheus")
set(CPACK_PACKAGE_DESCRIPTION
  "aster-exporter observes the HTTP/1.x traffic of processes on this host with eBPF,
without changing or restarting them, and exports request rate, latency, size and
status metrics plus the process metrics of the watched services on /metrics
(port 8497) for Prometheus.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "aster-exporter maintainers <maintainers@aster-exporter.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: from dpkg-shlibdeps, plus the helpers the maintainer scripts call.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "init-system-helpers (>= 1.52)")
find_program(ASTER_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NOT ASTER_DPKG_SHLIBDEPS)
  message(WARNING "dpkg-shlibdeps not found: `cpack -G DEB` will fail; apt-get install dpkg-dev")
endif()
# conffiles keeps local edits of /etc/aster-exporter/config.yaml across upgrades;
# postinst/prerm/postrm enable, restart and stop the systemd unit.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${ASTER_PACKAGING_DIR}/debian/conffiles"
  "${ASTER_PACKAGING_DIR}/debian/postinst"
  "${ASTER_PACKAGING_DIR}/debian/prerm"
  "${ASTER_PACKAGING_DIR}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
