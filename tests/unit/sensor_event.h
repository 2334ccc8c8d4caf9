// A receiver's event (already decoded), as Collector::ingest_event takes it, shared by the
// tests of answers that hold sources (test_query_answer.cpp, test_sliced_answer.cpp).
#pragma once

#include "event.h"

#include <string>

namespace mso::test_support {

// 2 s before the tests' arrival time; one finding of `rule`.
inline RequestEvent sensor_event(const std::string& vhost, const std::string& rule,
                                 bool intercepted = false)
{
    RequestEvent e;
    e.time_us = 1763739598000000;
    e.vhost = vhost;
    e.unique_id = "sensor-" + vhost + "-" + rule;
    e.client = "198.51.100.9";
    e.method = "GET";
    e.path = "/x";
    e.status = 403;
    e.intercepted = intercepted;
    Finding f;
    f.id = rule;
    f.msg = "from a sensor";
    e.findings.push_back(f);
    return e;
}

} // namespace mso::test_support
