#ifndef REEF_CI2C_H
#define REEF_CI2C_H
#include <linux/i2c.h>
#include <linux/i2c-dev.h>
#include <i2c/smbus.h>

/// ioctl is variadic, which Swift cannot call: these two wrappers are the whole shim.

/// Runs `count` messages as one combined transaction (repeated start between them).
/// Returns the number of messages transferred, or -1 with errno set.
int reef_i2c_rdwr(int fd, struct i2c_msg *messages, unsigned int count);

/// Reports the adapter's functionality bits (I2C_FUNCS) into `funcs`. Returns 0 or -1 with errno.
int reef_i2c_funcs(int fd, unsigned long *funcs);
#endif
