/*
 * datasets — a stored meta-labelling dataset (datasets + dataset_rows, SPEC
 * §6.1–6.2) rendered as the dataset_<strategy>_<f>.csv artifact, byte for
 * byte what `tradebench build-ml-dataset` writes (engine/ml_dataset.c's
 * ml_dataset_write_csv: the same header, nf_double numbers, tu_format
 * timestamps). Streamed in keyset pages over seq, never the whole dataset
 * in memory; values read in binary format, so doubles arrive bit-exact.
 */
#ifndef TB_API_DATASETS_H
#define TB_API_DATASETS_H

#include <stdint.h>

#include "server/http.h"

#define DATASETS_PAGE_ROWS 4000  /* rows per keyset page while streaming */

/* Reply 200 with dataset `dataset_id` as CSV (chunked), Content-Disposition
 * attachment; filename="<filename>"; 404 when there is no such dataset.
 * The first page is read before answering, so a database failure is still
 * a clean 503. */
void datasets_reply_csv(const struct http_request *req, struct http_reply *rep, int64_t dataset_id,
                        const char *filename);

#endif
