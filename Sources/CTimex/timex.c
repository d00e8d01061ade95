#include "CTimex.h"
#include <sys/timex.h>

int reef_clock_synchronized(void) {
    struct timex tx = { .modes = 0 }; /* read-only query */
    int state = adjtimex(&tx);
    if (state < 0) return -1;
    return (state != TIME_ERROR && !(tx.status & STA_UNSYNC)) ? 1 : 0;
}
