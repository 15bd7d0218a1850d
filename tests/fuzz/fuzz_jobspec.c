/*
 * fuzz_jobspec — libFuzzer target for the JSON request validator: the bytes
 * are parsed exactly as the server parses a body (json_loadb with
 * JSON_REJECT_DUPLICATES, jansson's depth limit) and whatever parses goes
 * through jobspec_from_backtest_json, jobspec_from_run_json and
 * jobspec_from_model_json. Beyond "no crash, no leak, no UB" it checks the
 * validator's own contract: a body it accepts yields normalised params
 * that are themselves accepted (what the worker re-reads from runs.params
 * through jobspec_from_stored), so a stored run can never fail to rebuild.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "jobspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The stored params of an accepted body must rebuild a spec. */
static void fz_roundtrip(const tb_jobspec *spec, const char *kind)
{
    tb_jobspec again;
    tb_error err = { 0 };
    char *text = json_dumps(spec->normalized, JSON_COMPACT);
    json_t *stored = text ? json_loads(text, 0, NULL) : NULL;
    if (!stored || jobspec_from_stored(kind, stored, &again, &err) != 0) {
        fprintf(stderr, "accepted body's normalised params do not rebuild (%s): %s\n",
                text ? text : "(unserialisable)", err.msg);
        abort();
    }
    jobspec_free(&again);
    json_decref(stored);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return 0;
    tb_jobspec spec;
    js_errors errs;
    if (jobspec_from_backtest_json(body, &spec, &errs) == 0) {
        fz_roundtrip(&spec, "backtest");
        jobspec_free(&spec);
    }
    int iterations;
    const char *phase;
    if (jobspec_from_run_json(body, &spec, &iterations, &phase, &errs) == 0) {
        fz_roundtrip(&spec, "run");
        jobspec_free(&spec);
    }
    if (jobspec_from_model_json(body, &spec, &errs) == 0) {
        fz_roundtrip(&spec, "model");
        jobspec_free(&spec);
    }
    json_decref(body);
    return 0;
}
