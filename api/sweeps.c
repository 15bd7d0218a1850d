/*
 * sweeps — see sweeps.h. PostgreSQL builds the JSON (json_build_object,
 * json_agg ordered by rank): float8 values print with the fewest digits
 * that round-trip, so every Sharpe is the engine's double.
 */
#include "sweeps.h"

#include "dbx.h"
#include "runview.h"

static const char SWEEPS_SQL_GET[] =
    "SELECT json_build_object("
    "  'strategy', s.strategy, 'freq', s.freq, 'grid', s.grid,"
    "  'combinations', s.n_combinations, 'members', s.n_members, 'skipped', s.n_skipped,"
    "  'skip_reason', s.skip_reason, 'threads', s.threads, 'members_seconds', s.members_seconds,"
    "  'backtests_per_second', CASE WHEN s.members_seconds > 0 THEN s.n_members / s.members_seconds END,"
    "  'symbols', s.n_symbols, 'bars', s.n_bars,"
    "  'first_ts', to_char(s.first_ts AT TIME ZONE 'UTC',"
    "                      CASE s.freq WHEN '1d' THEN 'YYYY-MM-DD' ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"' END),"
    "  'last_ts', to_char(s.last_ts AT TIME ZONE 'UTC',"
    "                     CASE s.freq WHEN '1d' THEN 'YYYY-MM-DD' ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"' END),"
    "  'ranked', coalesce((SELECT json_agg(json_build_object("
    "        'rank', m.rank, 'member', m.member, 'params', m.params, 'sharpe', m.sharpe, 'cagr', m.cagr,"
    "        'max_drawdown', m.max_drawdown, 'turnover', m.turnover, 'total_return', m.total_return,"
    "        'n_orders', m.n_orders, 'metrics', m.metrics) ORDER BY m.rank)"
    "      FROM sweep_members m WHERE m.run_id = s.run_id), '[]'::json))::text"
    " FROM sweeps s WHERE s.run_id = $1::bigint";

json_t *sweeps_json(const struct http_request *req, struct http_reply *rep, const char *id)
{
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return NULL;
    PGresult *res = dbx_read_prepared(&conn, rep, SWEEPS_SQL_GET, 1, args, DBX_TEXT);
    if (!res)
        return NULL;
    json_t *o = NULL;
    if (PQntuples(res) == 0)
        o = json_null();
    else
        o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (!o) {
        http_reply_error(rep, PROBLEM_INTERNAL, "the sweep's stored results could not be read");
        return NULL;
    }
    return o;
}
