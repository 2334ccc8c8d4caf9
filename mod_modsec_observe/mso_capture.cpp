// error_log hook: keeps only messages that mod_security2 logged about a request, and
// attaches them to the root request, since ModSecurity logs phase 1/2 messages on the
// original request and phase 5 on the last internal redirect.
#include "mso_capture.h"

#include "mso_config.h"

#include "modsec_message.h"

#include <cstring>
#include <new>

namespace mso {
namespace {

int g_modsec_index = -1;

} // namespace

void set_modsec_module_index(int index) noexcept
{
    g_modsec_index = index;
}
int modsec_module_index() noexcept
{
    return g_modsec_index;
}

const request_rec* root_request(const request_rec* r) noexcept
{
    while (r->main)
        r = r->main;
    while (r->prev)
        r = r->prev;
    return r;
}

const CapturedMessages* captured_messages(const request_rec* root) noexcept
{
    return static_cast<const CapturedMessages*>(
        ap_get_module_config(root->request_config, &modsec_observe_module));
}

void capture_error_log(const ap_errorlog_info* info, const char* errstr) noexcept
{
    // Every message of the server passes here: the common case must return at once.
    // Startup messages have info->r (and info->s) NULL.
    if (g_modsec_index < 0 || info->module_index != g_modsec_index || !info->r || !errstr)
        return;
    const request_rec* root = root_request(info->r);
    if (!is_enabled(server_config(root->server)))
        return;
    auto* captured = static_cast<CapturedMessages*>(
        ap_get_module_config(root->request_config, &modsec_observe_module));
    if (!captured) {
        captured = new (apr_palloc(root->pool, sizeof(CapturedMessages))) CapturedMessages{};
        ap_set_module_config(root->request_config, &modsec_observe_module, captured);
    }
    const std::size_t len = std::strlen(errstr);
    if (captured->count == k_max_messages || len > k_max_message_bytes - captured->bytes) {
        ++captured->dropped;
        return;
    }
    // httpd escaped the message for its log file before the hook; keep ModSecurity's text.
    char* copy = apr_pstrmemdup(root->pool, errstr, len);
    captured->messages[captured->count++] = {copy, apache_log_unescape(copy, len)};
    captured->bytes += len;
}

} // namespace mso
