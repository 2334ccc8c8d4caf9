// errno_text() through the GNU strerror_r(), which returns the text rather than
// filling the buffer in every case (a static string for known values).
#include "util/errno_text.h"

#include <string.h>

namespace mso {

std::string errno_text(int err)
{
    char buffer[128];
    return ::strerror_r(err, buffer, sizeof(buffer));
}

} // namespace mso
