// libgpiod 1.6 (Debian 12 / Raspberry Pi OS bookworm). The 2.x API is different.
#include <gpiod.h>
