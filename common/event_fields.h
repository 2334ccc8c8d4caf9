// The JSON keys of the event datagrams (docs/protocol.md, section 1), spelled once
// for the module's encoder, both decoders, the `events` answer and the snapshot's
// event record. Each constant is its own key ("vhost" is k_field_vhost); a key used
// in several objects (a request's and a finding's "intercepted") is one constant.
// Plain character arrays, usable as a C string (nlohmann/json, the snapshot reader)
// and as a std::string_view (JsonWriter, the fast decoder's key tables); nothing here
// needs exceptions or RTTI, which the module is built without.
#pragma once

#include <cstddef>

namespace mso {

// Largest datagram either side accepts; the module encodes into at most this much.
inline constexpr std::size_t k_max_datagram_bytes = 65536;

// Every datagram (section 1): the schema version and the type.
inline constexpr char k_field_version[] = "v";
inline constexpr char k_field_type[] = "type";
inline constexpr char k_type_request[] = "request";
inline constexpr char k_type_counters[] = "counters";

// A request event (section 1.1). "vhost" and "port" also begin a counter report;
// "intercepted" and "phase" are also keys of a finding.
inline constexpr char k_field_time_us[] = "time_us";
inline constexpr char k_field_vhost[] = "vhost";
inline constexpr char k_field_port[] = "port";
inline constexpr char k_field_unique_id[] = "unique_id";
inline constexpr char k_field_client[] = "client";
inline constexpr char k_field_method[] = "method";
inline constexpr char k_field_path[] = "path";
inline constexpr char k_field_query[] = "query";
inline constexpr char k_field_status[] = "status";
inline constexpr char k_field_protocol[] = "protocol";
inline constexpr char k_field_user_agent[] = "user_agent";
inline constexpr char k_field_intercepted[] = "intercepted";
inline constexpr char k_field_phase[] = "phase";
inline constexpr char k_field_scores[] = "scores";
inline constexpr char k_field_findings[] = "findings";
inline constexpr char k_field_findings_dropped[] = "findings_dropped";
// Version 2's header only: the module's ModSecObserveMatchedData byte limit, which the
// collector applies to each finding's data (section 1.3).
inline constexpr char k_field_data_max[] = "data_max";

// The scores object of a request event.
inline constexpr char k_field_inbound[] = "inbound";
inline constexpr char k_field_outbound[] = "outbound";
inline constexpr char k_field_inbound_pl[] = "inbound_pl";
inline constexpr char k_field_outbound_pl[] = "outbound_pl";
inline constexpr char k_field_inbound_threshold[] = "inbound_threshold";
inline constexpr char k_field_outbound_threshold[] = "outbound_threshold";
inline constexpr char k_field_blocking_pl[] = "blocking_pl";
inline constexpr char k_field_detection_pl[] = "detection_pl";

// A finding (besides "intercepted" and "phase" above).
inline constexpr char k_field_id[] = "id";
inline constexpr char k_field_msg[] = "msg";
inline constexpr char k_field_severity[] = "severity";
inline constexpr char k_field_pl[] = "pl";
inline constexpr char k_field_tags[] = "tags";
inline constexpr char k_field_target[] = "target";
inline constexpr char k_field_data[] = "data";
inline constexpr char k_field_data_truncated[] = "data_truncated";
inline constexpr char k_field_truncated[] = "truncated";
inline constexpr char k_field_engine[] = "engine";

// A counter report (section 1.2), besides "vhost", "port" and "status" above (its
// "status" maps status codes to counts).
inline constexpr char k_field_pid[] = "pid";
inline constexpr char k_field_requests[] = "requests";
inline constexpr char k_field_events_lost[] = "events_lost";

// The `events` answer shows an event with these keys besides those of the datagram
// (docs/protocol.md, section 2): the time as ISO 8601 and the findings as "rules".
inline constexpr char k_field_time[] = "time";
inline constexpr char k_field_rules[] = "rules";

} // namespace mso
