#include "CI2C.h"
#include <sys/ioctl.h>

int reef_i2c_rdwr(int fd, struct i2c_msg *messages, unsigned int count) {
    struct i2c_rdwr_ioctl_data data = { .msgs = messages, .nmsgs = count };
    return ioctl(fd, I2C_RDWR, &data);
}

int reef_i2c_funcs(int fd, unsigned long *funcs) {
    return ioctl(fd, I2C_FUNCS, funcs);
}
