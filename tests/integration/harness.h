/*
 * harness — integration-test support: start the real tradebench-server
 * binary (TB_SERVER_BIN, set by CMake) on a free loopback port against the
 * PostgreSQL in TB_TEST_DATABASE_URL, talk to it with libcurl, stop it with
 * SIGTERM and report its exit status. Tests skip when the DB is absent.
 */
#ifndef TB_TEST_HARNESS_H
#define TB_TEST_HARNESS_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

struct tb_server {
    pid_t pid;                   /* 0 when not running */
    unsigned port;               /* loopback port it listens on */
    char base[64];               /* "http://127.0.0.1:PORT" */
    char log_path[256];          /* its stderr */
};

struct tb_response {
    long status;                 /* HTTP status, 0 when the transfer failed */
    char content_type[128];
    char allow[128];
    char www_authenticate[128];
    char location[256];
    char *body;                  /* NUL-terminated, caller frees via tb_response_free */
    size_t len;
    char error[256];             /* libcurl's error when status == 0 */
};

/* The test database URL, or cr_skip_test() when unset or unreachable. */
const char *harness_db_url_or_skip(void);
/* Start the server with TB_DATABASE_URL = db_url (NULL: the test DB) and
 * TB_API_TOKEN = token (NULL: none); waits until it answers HTTP.
 * Returns 0, or -1 (with its log printed) when it did not come up. */
int harness_server_start(struct tb_server *s, const char *db_url, const char *token);
/* SIGTERM and wait (up to 20 s). Returns its exit status (0..255), 128+sig
 * when killed by a signal, -1 when it had to be SIGKILLed. Prints the log
 * when the status is not 0. */
int harness_server_stop(struct tb_server *s);
/* SIGKILL whatever is still running (Criterion .fini). */
void harness_server_kill(struct tb_server *s);

/* Run bin with argv (NULL-terminated, argv[0] included) and extra
 * environment entries "K=V" (NULL-terminated, may be NULL; "K=" unsets K),
 * stdout+stderr to log_path. Returns the pid, or -1. */
pid_t harness_spawn(const char *bin, char *const argv[], const char *const env[],
                    const char *log_path);
/* Wait up to timeout_ms for pid; returns its exit status (0..255), 128+sig
 * for a signal, or -1 on timeout (the process is then SIGKILLed). */
int harness_wait(pid_t pid, int timeout_ms);
/* The whole content of a file (caller frees), or NULL. */
char *harness_slurp(const char *path);

/* One request. content_type / body / auth may be NULL; extra_header is an
 * optional raw "Name: value" line (e.g. "Expect:" to disable 100-continue). */
int harness_request(const struct tb_server *s, const char *method, const char *path,
                    const char *content_type, const void *body, size_t len, const char *auth,
                    const char *extra_header, struct tb_response *out);
void tb_response_free(struct tb_response *r);
/* Parse the body as JSON (new reference), or NULL. */
json_t *tb_response_json(const struct tb_response *r);
/* Assert problem+json with this status and code, all four fields present. */
void harness_assert_problem(const struct tb_response *r, long status, const char *code);

#endif
