/*
 * models — the meta-model registry (SPEC §10): POST /models trains one
 * (asynchronously: a run of kind "model", executed by a worker), GET lists
 * and describes the trained models with their cross-validation metrics,
 * importances, correlation matrix and data range, serves the training
 * report and the artifacts, POST .../predict scores feature rows with the
 * stored model, DELETE removes a model and its dataset. A model, its
 * dataset and the run that trained it share one id (ML_JOB runs register
 * their model too). Also the POST /backtests check that a meta_filter names
 * an existing model.
 */
#ifndef TB_API_MODELS_H
#define TB_API_MODELS_H

#include <stdint.h>

#include "jobspec.h"
#include "server/http.h"

#define MODELS_LIST_DEFAULT_LIMIT 50
#define MODELS_LIST_MAX_LIMIT 200
#define MODELS_PREDICT_MAX_ROWS 10000  /* more rows: 413 */

/* POST /models {strategy, params, freq, data, data_seed, symbols|universe,
 * start, end, last_bars, pt, sl, h, max_depth, eta, n_rounds, subsample,
 * colsample_bytree, min_child_weight, max_bin, seed, tree_method, k_folds,
 * cv} -> 202 + Location: /models/{id} (the run, kind "model"). */
void api_models_post(const struct http_request *req, struct http_reply *rep);
/* GET /models?strategy=&limit=&cursor= -> {"items", "next_cursor"}, newest first. */
void api_models_list(const struct http_request *req, struct http_reply *rep);
/* GET /models/{id} -> the model (or, before it is trained, its run's status). */
void api_models_get(const struct http_request *req, struct http_reply *rep);
/* GET /models/{id}/report -> ml_training_report.md */
void api_models_report(const struct http_request *req, struct http_reply *rep);
/* GET /models/{id}/artifacts/{name} -> one of the model run's artifacts. */
void api_models_artifact(const struct http_request *req, struct http_reply *rep);
/* POST /models/{id}/predict [ {feature: x, ...}, ... ] | {"rows": [...]} -> {"probabilities"} */
void api_models_predict(const struct http_request *req, struct http_reply *rep);
/* DELETE /models/{id} -> 204; 409 while a queued or running backtest uses it. */
void api_models_delete(const struct http_request *req, struct http_reply *rep);

/* For POST /backtests and /runs: when spec asks for a meta_filter, its
 * model must exist. 0 ok, or -1 after replying 400 naming
 * <field_prefix>meta_filter.model_id (or 503). */
int models_check_meta_filter(const struct http_request *req, struct http_reply *rep,
                             const tb_jobspec *spec, const char *field_prefix);

/* <strategy>_meta_model.json of the model trained by run_id, from
 * models.model (the artifact download's renderer). */
void models_reply_model_json(const struct http_request *req, struct http_reply *rep, int64_t run_id,
                             const char *filename);

#endif
