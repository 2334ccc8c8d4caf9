// Plain-text tables for the CLI: columns aligned by display width (not bytes),
// numbers right-aligned, an optional column width limit that cuts long text.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mso {

enum class Align { left, right };

struct Column {
    std::string header;
    Align align = Align::left;
    std::size_t max_width = 0; // 0: unlimited; longer cells are cut with "…"
};

// Collects rows, then renders them. Cells must already be terminal-safe
// (terminal_safe()); the table only measures and pads them. Not thread-safe.
class Table {
public:
    explicit Table(std::vector<Column> columns);

    // Missing cells are empty; extra cells are ignored.
    void add_row(std::vector<std::string> cells);

    // Header line plus one line per row, each ending in '\n', columns separated
    // by two spaces, no trailing blanks.
    [[nodiscard]] std::string render() const;

private:
    std::vector<Column> m_columns;
    std::vector<std::vector<std::string>> m_rows;
};

} // namespace mso
