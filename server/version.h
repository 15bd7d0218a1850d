/*
 * version — the tradebench release string, reported by /health, the
 * OpenAPI document's info.version and the binaries' start-up log line.
 * Bump it together with api/openapi.json.
 */
#ifndef TB_VERSION_H
#define TB_VERSION_H

#define TB_VERSION "0.1.0"

#endif
