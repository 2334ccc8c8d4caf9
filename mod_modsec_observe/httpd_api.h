// The one place the module includes httpd and APR headers. Everything that needs
// request_rec, server_rec or the hook API includes this instead of httpd.h directly,
// so that httpd's macros are confined to the module's own translation units.
#pragma once

// clang-format off: httpd.h must come first.
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_cfgtree.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
// clang-format on

// httpd.h forbids these names with macros; the module does not use them either.
#undef strtoul
