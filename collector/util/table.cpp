// Renders a Table: measure every cell once (after cutting it to its column's
// limit), then pad.
#include "util/table.h"

#include "util/terminal.h"

#include <algorithm>

namespace mso {

namespace {

constexpr std::string_view k_gap = "  ";

} // namespace

Table::Table(std::vector<Column> columns) : m_columns(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells)
{
    cells.resize(m_columns.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (m_columns[i].max_width != 0) {
            cells[i] = fit_width(cells[i], m_columns[i].max_width);
        }
    }
    m_rows.push_back(std::move(cells));
}

std::string Table::render() const
{
    std::vector<std::size_t> widths(m_columns.size());
    for (std::size_t i = 0; i < m_columns.size(); ++i) {
        widths[i] = display_width(m_columns[i].header);
    }
    for (const auto& row : m_rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], display_width(row[i]));
        }
    }

    std::string out;
    const auto render_line = [&](const auto& cell_at) {
        std::string line;
        for (std::size_t i = 0; i < m_columns.size(); ++i) {
            const std::string& cell = cell_at(i);
            const std::size_t pad = widths[i] - std::min(widths[i], display_width(cell));
            if (i != 0) {
                line += k_gap;
            }
            if (m_columns[i].align == Align::right) {
                line.append(pad, ' ');
                line += cell;
            } else {
                line += cell;
                line.append(pad, ' ');
            }
        }
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
        out += line;
        out += '\n';
    };
    render_line([&](std::size_t i) -> const std::string& { return m_columns[i].header; });
    for (const auto& row : m_rows) {
        render_line([&](std::size_t i) -> const std::string& { return row[i]; });
    }
    return out;
}

} // namespace mso
