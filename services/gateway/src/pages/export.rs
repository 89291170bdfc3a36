//! CSV exports: UTF-8 with a byte-order mark (so spreadsheet programs read accents right) and
//! safe from formula injection (a cell that a spreadsheet would run as a formula is prefixed
//! with an apostrophe).

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub struct Csv {
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    pub fn new(headings: &[&str]) -> Self {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer("\u{feff}".as_bytes().to_vec());
        // Writing to memory cannot fail.
        let _ = writer.write_record(headings);
        Self { writer }
    }

    pub fn row(&mut self, cells: &[&str]) {
        let _ = self
            .writer
            .write_record(cells.iter().map(|cell| defuse(cell)));
    }

    pub fn into_response(self, file_name: &str) -> Response {
        let body = self.writer.into_inner().unwrap_or_default();
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
            ],
            body,
        )
            .into_response()
    }
}

/// `=1+1` becomes `'=1+1`: shown as text, never run.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_text_is_kept() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("+44 20"), "'+44 20");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("-1"), "'-1");
        assert_eq!(defuse("Année 5 – reading"), "Année 5 – reading");
    }

    #[test]
    fn files_start_with_a_byte_order_mark_and_quote_commas() {
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(&["x, y", "=2"]);
        let body = csv.writer.into_inner().unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text, "\u{feff}a,b\r\n\"x, y\",'=2\r\n");
    }
}
