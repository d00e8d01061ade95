// libgpiod's one header: 1.6 on Debian 12 / Raspberry Pi OS bookworm, 2.x on trixie and later.
// The two APIs differ entirely; Package.swift reads the version and HAL compiles the matching
// backend (Sources/HAL/Linux/LinuxGPIOChip*.swift).
#include <gpiod.h>
