#ifndef REEF_CTIMEX_H
#define REEF_CTIMEX_H
/// <sys/timex.h> is not part of Swift's Glibc module, so the one question the agent asks
/// of it is answered here: has an NTP daemon synchronised the kernel clock since boot?
/// Returns 1 if synchronised, 0 if not, -1 with errno set if adjtimex failed.
int reef_clock_synchronized(void);
#endif
