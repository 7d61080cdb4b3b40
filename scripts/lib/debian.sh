# Sourced by scripts/install_*.sh: what installing a Debian package as the user or as root needs, said once.
# SUDO is empty as root, "sudo" otherwise; apt_install PACKAGE... updates the lists once and installs quietly.
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

apt_install() {
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
