// Debian sid's prebuilt Swift runtime and Foundation were compiled against glibc 2.43's
// headers: with _GNU_SOURCE and C23, glibc 2.38+ redirects sscanf/strtol/strtoll… to
// __isoc23_* and the runtime calls strlcpy/strlcat (new in 2.38). Linked against an older
// target's glibc (bookworm: 2.36) those symbols are missing. This file, compiled against the
// target's own headers, defines them in terms of the functions that release has; against
// glibc 2.38 or newer it compiles to nothing and the real ones are used.
#include <features.h>
#if !__GLIBC_PREREQ(2, 38)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// C23 changed only how "0b" prefixes and %b are parsed; Swift's runtime and Foundation parse
// decimal and hex numbers, which both versions read the same way.
int __isoc23_sscanf(const char *s, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int n = vsscanf(s, format, ap);
    va_end(ap);
    return n;
}
int __isoc23_vsscanf(const char *s, const char *format, va_list ap) { return vsscanf(s, format, ap); }
long __isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }
long long __isoc23_strtoll(const char *s, char **end, int base) { return strtoll(s, end, base); }
unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }
unsigned long long __isoc23_strtoull(const char *s, char **end, int base) { return strtoull(s, end, base); }

// BSD semantics: copy at most size-1 bytes, always terminate, return strlen(src).
size_t strlcpy(char *dst, const char *src, size_t size) {
    size_t len = strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}
size_t strlcat(char *dst, const char *src, size_t size) {
    size_t used = strnlen(dst, size);
    if (used == size) return size + strlen(src);
    return used + strlcpy(dst + used, src, size - used);
}
#endif
