// A request record with every field set, shared by the tests that encode events
// (test_event_encoder.cpp, test_event_decoder_fast.cpp).
#pragma once

#include "event_encoder.h"

namespace mso {

inline RequestRecord sample_record()
{
    RequestRecord r;
    r.time_us = 1763739600123456;
    r.vhost = "block.test";
    r.port = 8080;
    r.unique_id = "abc";
    r.client = "127.0.0.1";
    r.method = "GET";
    r.path = "/search";
    r.query = "q=secret";
    r.status = 403;
    r.protocol = "HTTP/1.1";
    r.user_agent = "sqlmap/1.7";
    return r;
}

} // namespace mso
