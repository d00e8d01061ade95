#ifndef REEF_CCURL_H
#define REEF_CCURL_H
#include <curl/curl.h>

/// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call.
/// One typed wrapper per argument kind, and constants whose C type differs between curl versions.
CURLcode reef_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode reef_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode reef_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode reef_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode reef_curl_setopt_write_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode reef_curl_setopt_header_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode reef_curl_setopt_read_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode reef_curl_setopt_debug_function(CURL *handle, int (*fn)(CURL *, curl_infotype, char *, size_t, void *));
CURLcode reef_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode reef_curl_getinfo_double(CURL *handle, CURLINFO info, double *value);

/// CURLUSESSL_ALL is an enum case in curl 7 (bookworm) and a `#define ...L` in curl 8
/// (trixie): Swift sees two different types. As a long, it is one.
long reef_curl_usessl_all(void);
#endif
