/* csv_reader.h — the strict CSV-directory market data reader (SPEC §1.1).
 * A directory holds <SYMBOL>.csv files with the header exactly
 * `date,open,high,low,close,volume` and ascending timestamps. Every rejection
 * names the file and line; no row is ever skipped. Files are read whole into
 * one reused buffer and parsed without sscanf (numfmt's exact parser). */
#ifndef TB_CSV_READER_H
#define TB_CSV_READER_H
#include <stddef.h>

#include "market.h"
#include "tb_error.h"

/* Bump whenever a valid file could parse to different bars (number parsing,
 * date rules, accepted variants): the panel cache (panel_cache.h) keys its
 * files by it, so caches written by an older reader are never used. */
#define CSV_READER_VERSION 1

/* List the symbols of a directory (file names ending in .csv, minus the
 * suffix), sorted in ascending byte order. *names is a new array of new
 * strings; free with csv_free_names(). */
int csv_list_symbols(const char *dir, char ***names, size_t *n, tb_error *err);
void csv_free_names(char **names, size_t n);

/* Load the given symbols (in that order) from dir into a new market.
 * On failure returns -1, *out untouched, err names "<dir>/<SYM>.csv:<line>". */
int csv_load(const char *dir, const char *const *symbols, size_t n, tb_freq freq, tb_market **out,
             tb_error *err);

/* Parse one file's contents (buf[0..len)) and append its bars to m as symbol
 * `symbol`. `path` is only used in messages. Exposed for tests and fuzzing. */
int csv_parse_buffer(const char *path, const char *buf, size_t len, tb_freq freq, const char *symbol,
                     tb_market *m, tb_error *err);

#endif
