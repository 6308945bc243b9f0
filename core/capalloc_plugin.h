/*
 * capalloc_plugin.h - the public plugin API of capalloc (ABI 1.3).
 *
 * This is the only header a plugin includes. It depends on libc only.
 * A plugin is a shared object that exports exactly one symbol,
 * CAPALLOC_ENTRY_SYMBOL ("capalloc_plugin_entry"), a function returning a
 * pointer to a static descriptor. Use CAPALLOC_PLUGIN_DEFINE() to write it.
 *
 * Three kinds of plugin exist:
 *   CAPALLOC_KIND_POLICY   weighting policy      -> capalloc_policy_plugin
 *   CAPALLOC_KIND_PRICES   price source          -> capalloc_price_plugin
 *   CAPALLOC_KIND_STORAGE  storage backend       -> capalloc_storage_plugin
 *
 * Every descriptor starts with capalloc_plugin_header, whose first fields
 * (magic, struct_size, abi_major, abi_minor, kind) form the ABI block. The
 * loader reads that block before it calls any other plugin code and refuses a
 * plugin whose block does not match, naming the field that differs.
 *
 * Compatibility rules (the "only grows" rule):
 *   - abi_major changes only when an existing field changes meaning or place;
 *     a plugin built for another major is refused.
 *   - abi_minor grows when fields are appended at the end of a descriptor or
 *     of capalloc_host. The core reads an appended descriptor field only when
 *     the plugin's struct_size covers it (CAPALLOC_HAS_FIELD); a plugin reads
 *     an appended host field only when host->struct_size covers it.
 *   - Structures the core hands to a plugin during a call (the policy's
 *     snapshot, the storage's write batch) grow the same way, at their end;
 *     a plugin reads a field appended in ABI 1.N only when
 *     host->abi_minor >= N (CAPALLOC_HOST_HAS_MINOR). A plugin built from
 *     an older header never sees the new fields and keeps working.
 *
 * ABI history: 1.0 the first release. 1.1 the fund's memory: the policy's
 * snapshot carries each strategy's history and the call's context, a policy
 * may ask for a lookback (history_wanted), the write batch carries the
 * run's record, and storage backends read it back (read_history,
 * read_run); optional read_cash (a capital movement reads and locks the
 * master's book only). 1.2 idempotent capital movements: an ADD or
 * WITHDRAW batch carries the investor's reference, kept under a unique
 * key, and storage backends look it up (find_reference); queued
 * redemptions (read_redemptions, redemption_op); policy stacks: a
 * policy may answer CAPALLOC_ERR_NO_DATA (the stage's fallback applies),
 * structured options (CAPALLOC_OPT_RECORD, CAPALLOC_OPT_RECORD_LIST,
 * host->opt_list_count) and the stage's note in the snapshot (note,
 * note_size). 1.3 a ledger that checks itself: the write batch carries
 * the run's created_at and its hash chain (prev_hash, run_hash, a hash
 * per trade row), computed by the core; storage backends store them and
 * hand them back (chain_head, read_anchor, read_journal) for `capalloc
 * verify`. Runs that move cash outside the
 * daily allocation: the write batch also carries the run's kind
 * (CAPALLOC_RUN_DEPLOY: new capital spread over the strategies with its
 * ADD; CAPALLOC_RUN_REVERSE: a correction that mirrors an earlier run's
 * transfers) and the run it reverses, kept under a unique key; the run
 * info the backends return carries the kind, the link and the run that
 * reversed it, and read_history's valuations their run's kind and links.
 * And the ledger's change stamp (ledger_stamp): a real run
 * re-reads and re-values the fund under the write lock only when another
 * writer changed it since the policy's read.
 *
 * Ownership rules, for every call in this file:
 *   - Strings and arrays the core passes to a plugin are borrowed: valid only
 *     for the duration of the call. Copy what you keep.
 *   - Strings a plugin passes back (descriptor fields, ids returned by
 *     policy->portfolios) are owned by the plugin and must stay valid until
 *     destroy() (descriptor strings: for the life of the shared object).
 *   - Error messages go into a caller-owned capalloc_err; nothing is freed by
 *     the other side.
 *   - The state a plugin's create() returns is owned by the plugin; the core
 *     hands it back to every callback and releases it only through destroy().
 *     A plugin keeps all its state there: no globals, so two instances of the
 *     same plugin in one process never see each other.
 *   - Plugins never call symbols of the capalloc executable: whatever they
 *     need from the core (logging, options, decimal arithmetic) is in the
 *     capalloc_host table passed to create(). Keep the host pointer.
 *
 * Threads: the core calls one instance from one thread at a time.
 */
#ifndef CAPALLOC_PLUGIN_H
#define CAPALLOC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAPALLOC_ABI_MAJOR 1
#define CAPALLOC_ABI_MINOR 3
#define CAPALLOC_PLUGIN_MAGIC 0x43415031u /* "CAP1" */
#define CAPALLOC_ENTRY_SYMBOL "capalloc_plugin_entry"

/* ------------------------------------------------------------------------ */
/* Exact decimals                                                            */
/* ------------------------------------------------------------------------ */

/*
 * capalloc_dec: an exact decimal number, a signed 64-bit count of
 * millionths (fixed point, 6 decimal places). Every amount, price, quantity
 * and weight in capalloc is one of these; binary floating point is never
 * used for money.
 *
 * Why fixed point: the range (+/- 9,223,372,036,854.775807) holds any fund's
 * cash in any currency, 6 places hold cents, equity prices, fractional share
 * quantities and weights to 0.0001%; addition and comparison are exact and
 * cheap, and every operation that would leave the range or need rounding is
 * reported, never wrapped. Text with more than 6 decimal places is refused
 * on input, not rounded.
 *
 * Do not do arithmetic on .micros yourself: use the host's dec_* functions,
 * which detect overflow and round by documented rules.
 */
typedef struct capalloc_dec {
    int64_t micros;
} capalloc_dec;

#define CAPALLOC_DEC_PLACES 6
#define CAPALLOC_DEC_ONE INT64_C(1000000)
#define CAPALLOC_DEC_MAX_TEXT 32 /* buffer size that holds any formatted value */

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------ */

typedef enum capalloc_status {
    CAPALLOC_OK = 0,
    CAPALLOC_ERR_INVALID = 1,  /* bad input or options: the user must fix something */
    CAPALLOC_ERR_NOT_FOUND = 2,/* something asked for does not exist */
    CAPALLOC_ERR_BUSY = 3,     /* the ledger is locked by another writer; try later */
    CAPALLOC_ERR_RETRY = 4,    /* transient conflict (e.g. serialization failure):
                                  the core rolls back and re-runs from a fresh read */
    CAPALLOC_ERR_IO = 5,       /* storage, network or file failure */
    CAPALLOC_ERR_NOMEM = 6,
    CAPALLOC_ERR_OVERFLOW = 7, /* a decimal left its range */
    CAPALLOC_ERR_INTERNAL = 8, /* a bug */
    CAPALLOC_ERR_EXISTS = 9,   /* a thing that must be unique (the run for a
                                  date) already exists */
    /* ABI 1.2, policies only: "not enough history to decide" - a decision,
     * not a failure. The core applies the stage's fallback (its `fallback`
     * setting: the incoming weights, equal weights, or failing the run),
     * and records err->msg as the reason in the run's explanation. A
     * policy documents when it returns this. */
    CAPALLOC_ERR_NO_DATA = 10
} capalloc_status;

/*
 * capalloc_err: filled by the callee when it returns anything but
 * CAPALLOC_OK. Owned by the caller (usually on its stack).
 *   key: the option or input the error is about, relative to the plugin's
 *        options ("weights.3", "path"), or "" when it is about nothing the
 *        user wrote. The core turns it into file:line:column for the user.
 *   msg: one line, no trailing newline, suitable to show as is. Never put a
 *        secret (password, API key) in it.
 * Use host->set_error() to fill it.
 */
typedef struct capalloc_err {
    char key[128];
    char msg[1024];
} capalloc_err;

/* ------------------------------------------------------------------------ */
/* Declarative options                                                       */
/* ------------------------------------------------------------------------ */

typedef enum capalloc_opt_type {
    CAPALLOC_OPT_STRING = 1,     /* YAML scalar, taken as text */
    CAPALLOC_OPT_PATH = 2,       /* scalar; a relative path is resolved against
                                    the config file's directory */
    CAPALLOC_OPT_INT = 3,        /* scalar, a decimal integer (int64) */
    CAPALLOC_OPT_DECIMAL = 4,    /* scalar, an exact decimal */
    CAPALLOC_OPT_BOOL = 5,       /* true / false */
    CAPALLOC_OPT_DECIMAL_MAP = 6, /* mapping of scalar keys to exact decimals */
    /* ABI 1.2: structured options. Their fields are declared by further
     * entries of the same array named "OPTION.FIELD", of the scalar types
     * above (e.g. "steps" RECORD_LIST with "steps.drawdown" DECIMAL,
     * required, and "steps.scale" DECIMAL). The core checks every field
     * like an option (unknown, missing required, wrong type, duplicate:
     * FILE:LINE:COL key 'policy[1].options.steps[2].scale'). Read a field
     * with the scalar accessors by its path: "steps[2].scale" (0-based),
     * "reentry.runs"; host->opt_list_count() says how many records there
     * are (a RECORD: 1 when given, 0 when not). No default (a field may
     * have one). */
    CAPALLOC_OPT_RECORD = 7,     /* a mapping of declared fields */
    CAPALLOC_OPT_RECORD_LIST = 8 /* a sequence of such mappings */
} capalloc_opt_type;

/*
 * A plugin declares its options as an array terminated by an entry whose
 * name is NULL. The core checks the YAML against it before create(): an
 * unknown key, a wrong type, a missing required option or a duplicate key is
 * refused with the file, line and key, and the plugin never sees it.
 * default_value (text, may be NULL) is used when the option is absent.
 */
typedef struct capalloc_option_spec {
    const char *name;
    capalloc_opt_type type;
    int required;
    const char *default_value;
    const char *help;
} capalloc_option_spec;

/* The validated options of one plugin instance. Opaque; read it through the
 * host's opt_* functions. Valid until destroy(). */
typedef struct capalloc_options capalloc_options;

/* ------------------------------------------------------------------------ */
/* The host: everything the core offers a plugin                             */
/* ------------------------------------------------------------------------ */

typedef enum capalloc_log_level {
    CAPALLOC_LOG_ERROR = 0,
    CAPALLOC_LOG_WARNING = 1,
    CAPALLOC_LOG_INFO = 2,
    CAPALLOC_LOG_DEBUG = 3
} capalloc_log_level;

typedef enum capalloc_round {
    CAPALLOC_ROUND_DOWN = 0,     /* toward zero */
    CAPALLOC_ROUND_HALF_EVEN = 1 /* to nearest, ties to even */
} capalloc_round;

#if defined(__GNUC__)
#define CAPALLOC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CAPALLOC_PRINTF(f, a)
#endif

typedef struct capalloc_host capalloc_host;

struct capalloc_host {
    /* ABI block of the host table (ABI 1.0 fields follow). */
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* The fund this instance serves. Borrowed for the life of the instance. */
    const char *master_id;   /* the master portfolio's id, e.g. "0" */
    const char *currency;    /* e.g. "USD" */
    int minor_units;         /* decimal places of the currency, e.g. 2 */
    const char *instance;    /* "storage", "prices" or "policy": for messages */

    /* Log a line through the core's log (stderr), prefixed with the plugin's
     * name. Never log a secret. */
    void (*log)(const capalloc_host *h, capalloc_log_level level,
                const char *fmt, ...) CAPALLOC_PRINTF(3, 4);

    /* Fill *err (see capalloc_err). key may be NULL. Returns nothing. */
    void (*set_error)(capalloc_err *err, const char *key, const char *fmt, ...)
        CAPALLOC_PRINTF(3, 4);

    /* Options. Each returns 1 when the option has a value (given or
     * default), 0 when it has none. The core has already checked types.
     * Strings are borrowed, valid until destroy(). */
    int (*opt_string)(const capalloc_options *o, const char *name, const char **out);
    int (*opt_int)(const capalloc_options *o, const char *name, int64_t *out);
    int (*opt_decimal)(const capalloc_options *o, const char *name, capalloc_dec *out);
    int (*opt_bool)(const capalloc_options *o, const char *name, int *out);
    /* DECIMAL_MAP options: number of entries, and entry i in file order. */
    size_t (*opt_map_count)(const capalloc_options *o, const char *name);
    int (*opt_map_entry)(const capalloc_options *o, const char *name, size_t i,
                         const char **key, capalloc_dec *value);

    /* Exact decimal arithmetic. Each returns CAPALLOC_OK, or
     * CAPALLOC_ERR_OVERFLOW (or CAPALLOC_ERR_INVALID for division by zero)
     * and leaves *out untouched. */
    capalloc_status (*dec_parse)(const char *text, capalloc_dec *out);
    /* Format with at least min_places decimals (more when the value needs
     * them; never rounds). buf needs CAPALLOC_DEC_MAX_TEXT bytes.
     * Returns buf. */
    char *(*dec_format)(capalloc_dec d, int min_places, char *buf, size_t len);
    capalloc_status (*dec_add)(capalloc_dec a, capalloc_dec b, capalloc_dec *out);
    capalloc_status (*dec_sub)(capalloc_dec a, capalloc_dec b, capalloc_dec *out);
    /* a*b and a/b, rounded to 6 places by the given rule. */
    capalloc_status (*dec_mul)(capalloc_dec a, capalloc_dec b, capalloc_round r,
                               capalloc_dec *out);
    capalloc_status (*dec_div)(capalloc_dec a, capalloc_dec b, capalloc_round r,
                               capalloc_dec *out);
    int (*dec_cmp)(capalloc_dec a, capalloc_dec b); /* -1, 0, 1 */

    /* Opaque to plugins. */
    void *core_private;

    /* ABI 1.2 (read when host->struct_size covers it): the records of a
     * RECORD_LIST option (a RECORD: 1 when given, else 0). */
    size_t (*opt_list_count)(const capalloc_options *o, const char *name);
};

/* ------------------------------------------------------------------------ */
/* The descriptor every plugin starts with                                   */
/* ------------------------------------------------------------------------ */

typedef enum capalloc_kind {
    CAPALLOC_KIND_POLICY = 1,
    CAPALLOC_KIND_PRICES = 2,
    CAPALLOC_KIND_STORAGE = 3
} capalloc_kind;

typedef struct capalloc_plugin_header {
    /* ABI block: checked by the loader before any other plugin code runs. */
    uint32_t magic;       /* CAPALLOC_PLUGIN_MAGIC */
    uint32_t struct_size; /* sizeof the whole kind-specific descriptor */
    uint16_t abi_major;   /* CAPALLOC_ABI_MAJOR the plugin was built for */
    uint16_t abi_minor;   /* CAPALLOC_ABI_MINOR the plugin was built for */
    uint32_t kind;        /* a capalloc_kind */

    /* Identity, for messages and `capalloc plugins`. */
    const char *name;        /* short name, e.g. "sqlite" (required) */
    const char *version;     /* the plugin's own version (required) */
    const char *description; /* one line (may be NULL) */

    /* Options (may be NULL: the plugin takes no options). */
    const capalloc_option_spec *options;

    /* Required. Create an instance: validate what options can't say
     * declaratively (set err->key to the option at fault), allocate the
     * state, keep host. On success *state must be non-NULL (a plugin with
     * nothing to keep returns a pointer to a small allocation anyway; the
     * core refuses NULL). On failure return non-OK, fill err, leave *state
     * NULL and hold nothing. CAPALLOC_ERR_INVALID means "the options are
     * wrong" (a config error, exit 3); a storage backend that cannot open
     * or lock its ledger returns CAPALLOC_ERR_IO or CAPALLOC_ERR_BUSY. */
    capalloc_status (*create)(const capalloc_host *host,
                              const capalloc_options *opts, void **state,
                              capalloc_err *err);
    /* Required. Release everything create() and later calls acquired.
     * Called once per successful create(); never fails. */
    void (*destroy)(void *state);
} capalloc_plugin_header;

#define CAPALLOC_HEADER_INIT(kind_, descriptor_type, name_, version_, desc_, \
                             options_, create_, destroy_)                    \
    { CAPALLOC_PLUGIN_MAGIC, (uint32_t)sizeof(descriptor_type),              \
      CAPALLOC_ABI_MAJOR, CAPALLOC_ABI_MINOR, (uint32_t)(kind_), (name_),    \
      (version_), (desc_), (options_), (create_), (destroy_) }

/* Whether a descriptor or host table of the given struct_size has field. */
#define CAPALLOC_HAS_FIELD(size, type, field) \
    ((size_t)(size) >= offsetof(type, field) + sizeof(((type *)0)->field))

/* Whether the core behind host speaks ABI 1.minor or later: the fields the
 * core appended to snapshots and batches in that minor are there. */
#define CAPALLOC_HOST_HAS_MINOR(host, minor) \
    ((host)->abi_major == CAPALLOC_ABI_MAJOR && (host)->abi_minor >= (minor))

/* ------------------------------------------------------------------------ */
/* Weighting policy                                                          */
/* ------------------------------------------------------------------------ */

/* One strategy portfolio, valued by the core. */
typedef struct capalloc_portfolio_view {
    const char *id;
    capalloc_dec cash;            /* cash balance */
    capalloc_dec positions_value; /* sum of quantity x price */
    capalloc_dec total;           /* cash + positions_value */
} capalloc_portfolio_view;

/* ABI 1.1. Why the policy is called. */
typedef enum capalloc_call_context {
    CAPALLOC_CALL_RUN = 0,     /* a real allocation: the weights move cash */
    CAPALLOC_CALL_DRY_RUN = 1, /* allocate --dry-run: computed, not written */
    CAPALLOC_CALL_STATUS = 2   /* the status view: today's plan, shown */
} capalloc_call_context;

/*
 * ABI 1.1. The fund's memory: a strategy's history, one point per date on
 * which it was valued (by an allocation run, or by `capalloc history
 * import` for the time before capalloc), oldest first, every date before
 * the run's date.
 *
 * Flow-adjusted (time-weighted) return. Between two consecutive
 * valuations t-1 and t of a strategy,
 *
 *     r_t = NAV_t / (NAV_{t-1} + transfer_{t-1}) - 1
 *
 * where NAV is the strategy's value (cash + positions at that run's
 * prices) BEFORE that run's transfers, and transfer_{t-1} is the cash the
 * run at t-1 moved into the strategy (negative: out of it). The
 * allocator's own transfers are flows, not performance: a strategy that
 * doubles its cash by a transfer has a return of 0; one whose positions
 * rise 10% while it is also funded has a return of 10%. When
 * NAV_{t-1} + transfer_{t-1} <= 0 (nothing was held after the previous
 * run) the point has NO return (has_return = 0): not 0, not infinity. The
 * first point of a strategy has no return either. When a date has several
 * runs (a forced re-run), its point chains them: 1 + r = the product of
 * (1 + r) over that date's runs, NAV is the last run's NAV, flow the sum
 * of the date's transfers. Returns are exact decimals rounded half-even to
 * 6 places at each step (r = 0.104167 means +10.4167%); statistics on them
 * may use double inside a policy.
 */
typedef struct capalloc_history_point {
    const char *date;   /* YYYY-MM-DD */
    capalloc_dec nav;   /* NAV before that date's transfers */
    capalloc_dec flow;  /* the date's transfers into the strategy (< 0: out) */
    capalloc_dec ret;   /* flow-adjusted return since the previous point,
                           valid when has_return */
    int has_return;
    uint32_t flags;     /* CAPALLOC_POINT_* */
} capalloc_history_point;

#define CAPALLOC_POINT_IMPORTED 0x1u /* from `capalloc history import` */

typedef struct capalloc_history {
    size_t n;                             /* may be 0: no history yet */
    const capalloc_history_point *points; /* oldest first */
} capalloc_history;

/*
 * A read-only snapshot of the fund, borrowed for the call.
 *
 * Membership and order: portfolios[] holds every strategy portfolio of the
 * run, the master excluded: first the configuration's `portfolios` list in
 * file order, then the ones the policy names through portfolios() that are
 * not already listed, in the order it gives them. weights[i] belongs to
 * portfolios[i], and so does history[i].
 */
typedef struct capalloc_snapshot {
    const char *master_id;
    const char *currency;
    const char *run_date;          /* YYYY-MM-DD of the run */
    capalloc_dec master_cash;
    capalloc_dec total_equity;     /* master cash + the master's positions
                                      value + every strategy's total */
    size_t n_portfolios;
    const capalloc_portfolio_view *portfolios; /* strategies, master excluded */
    const capalloc_options *options; /* the policy's own options (the same
                                        as create() received), for the
                                        host's opt_* functions */

    /* ABI 1.1: read only when CAPALLOC_HOST_HAS_MINOR(host, 1). */
    capalloc_call_context context;
    /* history[i] is portfolios[i]'s history, at most the number of points
     * the policy asked for through history_wanted (none asked: n = 0).
     * Read from the ledger in one query per run. */
    const capalloc_history *history;
    /* The weights of the previous stage of a policy stack, n_portfolios of
     * them, or NULL for the first (or only) stage. */
    const capalloc_dec *incoming;
    /* ABI 1.2: read only when CAPALLOC_HOST_HAS_MINOR(host, 2). A buffer
     * of note_size bytes (zeroed; note_size 0: none) where the
     * stage may leave one line of UTF-8 text saying what it decided (an
     * override applied, a strategy cut by its drawdown). The core records
     * it with the stage's weights in the run's explanation and `capalloc
     * explain` shows it. Never put a secret in it. */
    char *note;
    size_t note_size;
} capalloc_snapshot;

typedef struct capalloc_policy_plugin {
    capalloc_plugin_header header; /* kind CAPALLOC_KIND_POLICY */

    /* Required. Write the target weight of snapshot->portfolios[i] into
     * weights[i] for every i (the core zeroes the array first). Weights must
     * be >= 0 and sum to at most 1; what is left stays in the master as a
     * reserve. The core checks both and refuses the run otherwise. */
    capalloc_status (*weights)(void *state, const capalloc_snapshot *snap,
                               capalloc_dec *weights, capalloc_err *err);

    /* Optional (may be NULL). The strategy portfolios this policy names,
     * so the core can open books for new ones. *ids stays owned by the
     * plugin until destroy(). */
    capalloc_status (*portfolios)(void *state, const char *const **ids,
                                  size_t *n, capalloc_err *err);

    /* ABI 1.1, optional (may be NULL: no history). How many history points
     * (dates) per strategy weights() needs, e.g. a lookback of 60 returns
     * needs 61 points. Called once after create(). The core reads at most
     * *points dates back (capped at 100,000). */
    capalloc_status (*history_wanted)(void *state, uint32_t *points,
                                      capalloc_err *err);
} capalloc_policy_plugin;

/* ------------------------------------------------------------------------ */
/* Price source                                                              */
/* ------------------------------------------------------------------------ */

#define CAPALLOC_QUOTE_STALE 0x1u /* a last-known price, not a fresh one */

typedef struct capalloc_quote {
    int found;          /* set to 1 when price is filled in */
    capalloc_dec price; /* in the fund's currency, > 0 */
    int64_t as_of;      /* Unix seconds the price is from, 0 if unknown */
    uint32_t flags;     /* CAPALLOC_QUOTE_* */
} capalloc_quote;

typedef struct capalloc_price_plugin {
    capalloc_plugin_header header; /* kind CAPALLOC_KIND_PRICES */

    /* Required. Price n distinct tickers in one call (the core asks once per
     * run, for every ticker the run needs, deduplicated). quotes[] has n
     * zeroed entries; fill quotes[i] for tickers[i] when found. A ticker the
     * source does not know is left with found == 0 and is NOT an error here:
     * the core reports every missing ticker by name and writes nothing.
     * Return non-OK only when the source itself failed. */
    capalloc_status (*get_prices)(void *state, const char *const *tickers,
                                  size_t n, capalloc_quote *quotes,
                                  capalloc_err *err);
} capalloc_price_plugin;

/* ------------------------------------------------------------------------ */
/* Storage backend                                                           */
/* ------------------------------------------------------------------------ */

typedef enum capalloc_txn_mode {
    CAPALLOC_TXN_READ = 0, /* a consistent read; nothing will be written */
    CAPALLOC_TXN_WRITE = 1 /* exclusive: the ledger lock is held until commit
                              or rollback, so no other writer can change a
                              balance between the read and the write */
} capalloc_txn_mode;

typedef enum capalloc_side {
    CAPALLOC_BUY = 0,
    CAPALLOC_SELL = 1
} capalloc_side;

/* Receives the ledger, row by row, during read_ledger(). The strings are
 * borrowed for the call; the core copies them. Return non-OK to stop. */
typedef struct capalloc_ledger_sink {
    void *ctx;
    capalloc_status (*cash)(void *ctx, const char *portfolio_id,
                            capalloc_dec cash);
    capalloc_status (*position)(void *ctx, const char *portfolio_id,
                                const char *ticker, capalloc_dec quantity);
} capalloc_ledger_sink;

/* One row of trade_execution_logs. */
typedef struct capalloc_trade {
    const char *portfolio_id;
    const char *ticker;       /* "USD_CASH" for cash movements */
    capalloc_side side;
    capalloc_dec quantity;
    capalloc_dec arrival_price;
    capalloc_dec exec_price;
} capalloc_trade;

/* A new absolute cash balance for cash_equity_book (insert or replace). */
typedef struct capalloc_cash_row {
    const char *portfolio_id;
    capalloc_dec cash;
} capalloc_cash_row;

/* A new absolute quantity for positions_book (insert or replace; a
 * quantity of zero removes the row). */
typedef struct capalloc_position_row {
    const char *portfolio_id;
    const char *ticker;
    capalloc_dec quantity;
} capalloc_position_row;

/*
 * ABI 1.1: the run's record. With every ALLOCATE batch the core hands the
 * backend a valuation per portfolio (the master included) and the price of
 * every ticker used, and the backend writes them in the same transaction
 * as the transfers: the record exists exactly when the run does. A
 * history import (`capalloc history import`) is an IMPORT batch whose
 * record holds imported valuations only (CAPALLOC_VAL_IMPORTED, no
 * prices).
 */
#define CAPALLOC_VAL_MASTER 0x1u   /* the master portfolio's row */
#define CAPALLOC_VAL_IMPORTED 0x2u /* from `capalloc history import`: only
                                      nav and transfer (the flow) are set */

typedef struct capalloc_valuation {
    int64_t run_id;           /* reading: the run that recorded it; writing:
                                 ignored (the batch's run) */
    const char *date;         /* YYYY-MM-DD: the run's date, or the imported
                                 row's */
    const char *portfolio_id;
    uint32_t flags;           /* CAPALLOC_VAL_* */
    capalloc_dec cash;            /* before the run's transfers */
    capalloc_dec positions_value; /* at the run's prices */
    capalloc_dec nav;             /* cash + positions_value */
    capalloc_dec weight;      /* the policy's weight (master: its reserve,
                                 1 - the sum of the weights) */
    capalloc_dec target;      /* total equity x weight, floored (master: its
                                 cash after the run) */
    capalloc_dec transfer;    /* cash moved in (< 0: out) by the run */
    capalloc_dec shortfall;   /* what the run could not move (>= 0) */

    /* ABI 1.3: filled by read_history() (the core reads them only from a
     * backend whose abi_minor >= 3; ignored when writing): the kind of
     * the run that recorded the row (CAPALLOC_RUN_*; NULL: an ordinary
     * run, or a backend before 1.3), the run it reverses and the run
     * that reversed it (0: none). */
    const char *run_kind;
    int64_t reverses;
    int64_t reversed_by;
} capalloc_valuation;

typedef struct capalloc_price_row {
    const char *ticker;
    capalloc_dec price;
    int64_t as_of;            /* Unix seconds, 0 if unknown */
    uint32_t flags;           /* CAPALLOC_QUOTE_STALE */
} capalloc_price_row;

typedef struct capalloc_run_record {
    const char *capalloc_version;
    /* The run's explanation as one JSON object (UTF-8, no trailing
     * newline): the policy's identity and options, each stage's weights,
     * totals. Stored as given; the backend does not parse it. */
    const char *detail_json;
    const capalloc_valuation *valuations;
    size_t n_valuations;
    const capalloc_price_row *prices;
    size_t n_prices;
} capalloc_run_record;

/* Everything one command writes, handed over at once so the backend can
 * batch it (multi-row statements, pipelining, COPY). */
typedef struct capalloc_write_batch {
    const char *action;   /* "ADD", "WITHDRAW", "ALLOCATE" or "IMPORT" */
    const char *run_date; /* ALLOCATE: the run's date, YYYY-MM-DD; else NULL */
    int forced;           /* ALLOCATE: 1 when forced past an earlier run */
    const char *currency;
    const capalloc_trade *trades;
    size_t n_trades;
    const capalloc_cash_row *cash;
    size_t n_cash;
    const capalloc_position_row *positions;
    size_t n_positions;

    /* ABI 1.1: read only when CAPALLOC_HOST_HAS_MINOR(host, 1). The run's
     * record for an ALLOCATE batch (valuations and prices) or an IMPORT
     * batch of imported history (valuations only); NULL otherwise. */
    const capalloc_run_record *record;

    /* ABI 1.2: read only when CAPALLOC_HOST_HAS_MINOR(host, 2). An ADD or
     * WITHDRAW batch may carry the investor-side transaction id (UTF-8, at
     * most CAPALLOC_REF_MAX bytes), NULL otherwise. The backend stores it
     * with the run under a unique key: a batch whose reference is already
     * recorded is refused with CAPALLOC_ERR_EXISTS and nothing is written,
     * so that a retried movement can never be booked twice. */
    const char *reference;

    /* ABI 1.3: read only when CAPALLOC_HOST_HAS_MINOR(host, 3). The hash
     * chain (core/chain.h): the core reads the chain's head with
     * chain_head() in the same write transaction, then hands over the
     * run's creation time (ISO 8601 UTC with milliseconds,
     * "2026-12-07T01:30:00.123Z"; the backend stores it as the run's
     * created_at and hands it back byte for byte), the previous run's hash,
     * this run's hash and one hash per trade (row_hashes[i] belongs to
     * trades[i]), each 64 lower-case hex digits. The backend stores them
     * as given and inserts the trades in order (their log ids ascending).
     * NULL from a core that keeps no chain. */
    const char *created_at;
    const char *prev_hash;
    const char *run_hash;
    const char *const *row_hashes;

    /* ABI 1.3: read only when CAPALLOC_HOST_HAS_MINOR(host, 3). The run's
     * kind (CAPALLOC_RUN_*; NULL or "RUN": an ordinary run). DEPLOY and
     * REVERSE are ALLOCATE batches (cash moved between the master and the
     * strategies, with their record) that are not the date's allocation:
     * the one-allocation-per-date key and find_run() ignore them. A
     * REVERSE batch names the run it reverses in `reverses` (> 0; 0
     * otherwise); the backend keeps it under a unique key: a second
     * reversal of the same run is refused with CAPALLOC_ERR_EXISTS and
     * nothing is written. */
    const char *kind;
    int64_t reverses;
} capalloc_write_batch;

/* ABI 1.3: the kinds of run (capalloc_write_batch.kind,
 * capalloc_run_info.kind). */
#define CAPALLOC_RUN_RUN "RUN"         /* every run before 1.3 */
#define CAPALLOC_RUN_DEPLOY "DEPLOY"   /* an ADD's capital spread at once */
#define CAPALLOC_RUN_REVERSE "REVERSE" /* mirrors the run it reverses */


/* ABI 1.3: the hash chain, as a backend reads it back. */
#define CAPALLOC_HASH_HEX 65 /* 64 hex digits and the NUL */

/* The latest run of the ledger (chain_head). */
typedef struct capalloc_chain_head {
    int64_t run_id;                   /* the highest run id; 0: no run */
    char run_hash[CAPALLOC_HASH_HEX]; /* its hash, "" when it has none (a
                                         run from before the chain) */
} capalloc_chain_head;

/* A ledger migrated from before the chain: the balances at the migration
 * (read_anchor), the start of what verify can check. */
typedef struct capalloc_chain_anchor {
    int64_t after_run_id;   /* the runs up to this one are before it */
    char created_at[32];    /* the migration's time, ISO 8601 UTC */
    int64_t after_log_id;   /* the highest log id then (0: none): a row of
                               a run up to after_run_id with a higher log
                               id was written after the migration, by
                               hand (read_journal delivers such rows) */
    int64_t runs_before;    /* how many runs there were then */
    int64_t runs_before_now;/* how many runs with run_id <= after_run_id
                               there are now (read_anchor counts them): a
                               run inserted or deleted by hand before the
                               anchor makes them differ */
} capalloc_chain_anchor;

/* One run of the journal (read_journal), with its chain. */
typedef struct capalloc_journal_run {
    int64_t run_id;
    const char *action;
    const char *run_date;   /* "" when none */
    int forced;
    const char *created_at; /* as write() got it (a run from before the
                               chain: as stored) */
    const char *reference;  /* NULL when none */
    const char *prev_hash;  /* NULL when the run has none */
    const char *run_hash;   /* NULL when the run has none */
    const char *kind;       /* CAPALLOC_RUN_* (NULL: RUN) */
    int64_t reverses;       /* the run a REVERSE reverses, else 0 */
} capalloc_journal_run;

/* One row of trade_execution_logs in the journal. */
typedef struct capalloc_journal_row {
    int64_t log_id;
    int64_t run_id;
    const char *portfolio_id;
    const char *ticker;
    capalloc_side side;
    capalloc_dec quantity;
    capalloc_dec arrival_price;
    capalloc_dec exec_price;
    const char *row_hash;   /* NULL when the row has none */
    /* A stored amount that is not an exact decimal (edited by hand): its
     * column ("quantity", "arrival_price", "exec_price") and text, that
     * amount 0 here; NULL when every amount parsed. The row is delivered
     * all the same, so that verify names it and goes on. */
    const char *bad_column;
    const char *bad_text;
} capalloc_journal_row;

/* Receives the journal (strings borrowed for the call). Return non-OK to
 * stop. */
typedef struct capalloc_journal_sink {
    void *ctx;
    /* read_anchor(): once, then every anchored balance through cash. */
    capalloc_status (*anchor)(void *ctx, const capalloc_chain_anchor *a);
    capalloc_status (*cash)(void *ctx, const char *portfolio_id,
                            capalloc_dec cash);
    /* read_journal(): each run, then its rows, run by run. */
    capalloc_status (*run)(void *ctx, const capalloc_journal_run *r);
    capalloc_status (*row)(void *ctx, const capalloc_journal_row *t);
} capalloc_journal_sink;

/* ABI 1.2: queued redemptions. A withdrawal the master cannot pay today
 * is queued; each allocation run pays what it can of the open ones
 * (oldest first) in its own transaction, as a WITHDRAW batch plus a PAY
 * operation per redemption. */
typedef enum capalloc_redemption_state {
    CAPALLOC_RED_QUEUED = 0,   /* open: amount - paid is still owed */
    CAPALLOC_RED_PAID = 1,     /* paid in full */
    CAPALLOC_RED_CANCELLED = 2 /* cancelled; what was paid stays paid */
} capalloc_redemption_state;

typedef struct capalloc_redemption {
    int64_t id;
    uint32_t state;           /* capalloc_redemption_state */
    capalloc_dec amount;      /* asked for */
    capalloc_dec paid;        /* paid so far, 0 <= paid <= amount */
    const char *reference;    /* the investor's reference, or NULL */
    char queued_at[32];       /* ISO 8601, UTC */
    char updated_at[32];      /* the last payment or the cancellation */
} capalloc_redemption;

typedef enum capalloc_redemption_op_kind {
    CAPALLOC_RED_OP_QUEUE = 0, /* a new open redemption of amount
                                  (reference optional); its id is returned */
    CAPALLOC_RED_OP_PAY = 1,   /* id: paid += amount; PAID when it reaches
                                  the amount. More than owed: refused */
    CAPALLOC_RED_OP_CANCEL = 2 /* id: an open redemption is CANCELLED; any
                                  other is refused (CAPALLOC_ERR_INVALID) */
} capalloc_redemption_op_kind;

typedef struct capalloc_redemption_op {
    uint32_t op;              /* capalloc_redemption_op_kind */
    int64_t id;               /* PAY, CANCEL */
    capalloc_dec amount;      /* QUEUE, PAY: > 0 */
    const char *reference;    /* QUEUE: or NULL */
} capalloc_redemption_op;

/* ABI 1.2: the longest reference a backend must keep, in bytes. */
#define CAPALLOC_REF_MAX 128

/* ABI 1.2: what find_reference() reports about a recorded reference. */
typedef struct capalloc_capital_ref {
    int64_t run_id;
    char action[16];       /* "ADD" or "WITHDRAW" */
    capalloc_dec amount;   /* the movement's amount (its cash trade) */
    char created_at[32];   /* ISO 8601, UTC */
} capalloc_capital_ref;

/* What find_run() reports about an earlier allocation run. */
typedef struct capalloc_run_info {
    int64_t run_id;
    char run_date[16];   /* YYYY-MM-DD */
    char created_at[32]; /* ISO 8601, UTC */
    int64_t n_trades;
    /* ABI 1.3: filled by read_run() and find_run() when the backend's
     * abi_minor >= 3 (the core zeroes the struct before the call, so an
     * older backend leaves kind "" and the links 0). */
    char kind[16];       /* CAPALLOC_RUN_*; "" from an older backend */
    int64_t reverses;    /* the run this one reverses, 0: none */
    int64_t reversed_by; /* the run that reversed this one, 0: none */
} capalloc_run_info;

/* ABI 1.1: which recorded valuations read_history() returns. Every bound
 * is optional (NULL / 0). */
typedef struct capalloc_history_query {
    const char *from_date;    /* date >= from_date */
    const char *before_date;  /* date <  before_date */
    const char *to_date;      /* date <= to_date */
    uint32_t last_dates;      /* > 0: only the latest last_dates distinct
                                 dates among the rows the other fields
                                 select (date bounds, portfolio_id,
                                 include_master) */
    const char *portfolio_id; /* only this portfolio (and, when
                                 include_master, the master) */
    int include_master;       /* 0: strategy rows only */
} capalloc_history_query;

/* Receives recorded rows. Strings are borrowed for the call. Return
 * non-OK to stop. */
typedef struct capalloc_record_sink {
    void *ctx;
    /* read_run() only, once, before the rows. capalloc_version and
     * detail_json are NULL for a run written without a record (before ABI
     * 1.1); info->run_date is "" for a run without a date (ADD, WITHDRAW,
     * IMPORT). */
    capalloc_status (*run)(void *ctx, const capalloc_run_info *info,
                           const char *action, int forced,
                           const char *capalloc_version,
                           const char *detail_json);
    capalloc_status (*valuation)(void *ctx, const capalloc_valuation *v);
    /* read_run() only. */
    capalloc_status (*price)(void *ctx, const capalloc_price_row *p);
} capalloc_record_sink;

typedef struct capalloc_storage_plugin {
    capalloc_plugin_header header; /* kind CAPALLOC_KIND_STORAGE */

    /* All required. Every call but begin() happens inside a transaction.
     * create() opens the connection and creates or migrates the schema.
     *
     * begin(WRITE) must exclude every other writer (this process or any
     * other sharing the ledger) until commit/rollback; when it cannot get
     * the lock in the backend's configured time it returns
     * CAPALLOC_ERR_BUSY. Any call may return CAPALLOC_ERR_RETRY for a
     * serialization failure or deadlock: the core rolls back and re-runs
     * from begin(). rollback() must be safe to call at any point, also
     * after a failed call or with no transaction open. */
    capalloc_status (*begin)(void *state, capalloc_txn_mode mode,
                             capalloc_err *err);
    capalloc_status (*commit)(void *state, capalloc_err *err);
    capalloc_status (*rollback)(void *state, capalloc_err *err);

    /* Every cash balance, then every position, in a handful of queries. */
    capalloc_status (*read_ledger)(void *state, const capalloc_ledger_sink *sink,
                                   capalloc_err *err);

    /* The latest allocation run recorded for run_date: *found = 1 and *info
     * filled, or *found = 0. Since ABI 1.3 only runs of kind RUN count
     * (a DEPLOY or REVERSE run is not the date's allocation). */
    capalloc_status (*find_run)(void *state, const char *run_date,
                                capalloc_run_info *info, int *found,
                                capalloc_err *err);

    /* Write one batch: a run-bookkeeping row, the trades, the balances and
     * positions. Returns CAPALLOC_ERR_EXISTS when a non-forced run for
     * batch->run_date already exists (the backend enforces this with a
     * unique key, not only by find_run). */
    capalloc_status (*write)(void *state, const capalloc_write_batch *batch,
                             capalloc_err *err);

    /* ABI 1.1. A backend without them (struct_size of 1.0) still works, but
     * keeps no record: the core warns and policies get no history. Both
     * run inside a transaction, each in ONE query (one round trip) whatever
     * the number of strategies or dates.
     *
     * read_history: the recorded valuations q selects (allocation runs and
     * imported history), in no particular order (the core sorts them).
     * Since ABI 1.1 write() also stores batch->record (see there) in the
     * same transaction: an ALLOCATE record's valuations are dated with
     * run_date (v->date is ignored); an imported valuation whose
     * (portfolio, date) is already imported, or repeated in the batch, is
     * CAPALLOC_ERR_INVALID naming both; a record on an ADD or WITHDRAW
     * batch, an imported row in an ALLOCATE record, a non-imported row in
     * an IMPORT record or a portfolio valued twice is
     * CAPALLOC_ERR_INTERNAL. */
    capalloc_status (*read_history)(void *state,
                                    const capalloc_history_query *q,
                                    const capalloc_record_sink *sink,
                                    capalloc_err *err);
    /* read_run: one run's record: sink->run once (*found = 1), then its
     * valuations (ordered by portfolio_id) and prices (by ticker);
     * *found = 0 and no call when there is no such run. */
    capalloc_status (*read_run)(void *state, int64_t run_id,
                                const capalloc_record_sink *sink, int *found,
                                capalloc_err *err);

    /* ABI 1.1, optional (NULL, or absent from an older struct_size: the
     * core reads the whole ledger instead). read_cash: the cash rows of
     * the n portfolios ids names (each at most once), in no particular
     * order, through sink->cash (sink->position is not called and may be
     * NULL); a portfolio without a book gives no row. In a write
     * transaction those rows, and only those, are locked until commit or
     * rollback, as read_ledger locks every cash row. ONE query, whatever
     * the size of the ledger: a capital movement touches the master's book
     * only, so its cost does not grow with the fund. */
    capalloc_status (*read_cash)(void *state, const char *const *ids,
                                 size_t n, const capalloc_ledger_sink *sink,
                                 capalloc_err *err);

    /* ABI 1.2, optional (NULL: the backend keeps no references, and the
     * core refuses a movement that gives one). Inside a transaction: the
     * capital movement recorded under reference, *found = 1 and *out
     * filled, or *found = 0. write() of a batch with a reference enforces
     * uniqueness itself (see capalloc_write_batch.reference); this call
     * lets the core tell a repeat (same action and amount) from a
     * conflict. */
    capalloc_status (*find_reference)(void *state, const char *reference,
                                      capalloc_capital_ref *out, int *found,
                                      capalloc_err *err);

    /* ABI 1.2, optional as a pair (NULL: no queued redemptions; the core
     * refuses to queue one). Inside a transaction (redemption_op: a WRITE
     * one). read_redemptions: every redemption (open_only: the QUEUED
     * ones), oldest first, each handed to fn (strings borrowed for the
     * call). redemption_op: one operation; *id_out (may be NULL) gets the
     * redemption's id. A reference of a queued redemption is unique among
     * redemptions (CAPALLOC_ERR_EXISTS). */
    capalloc_status (*read_redemptions)(void *state, int open_only,
                                        capalloc_status (*fn)(
                                            void *ctx,
                                            const capalloc_redemption *r),
                                        void *ctx, capalloc_err *err);
    capalloc_status (*redemption_op)(void *state,
                                     const capalloc_redemption_op *op,
                                     int64_t *id_out, capalloc_err *err);

    /* ABI 1.3, optional as a group (NULL: the backend keeps no chain; the
     * core writes unchained runs and `verify` refuses to run). Inside a
     * transaction.
     *
     * chain_head: the latest run (the highest run id) and its stored
     * run_hash. In a WRITE transaction it runs under the write lock, so
     * the run the core then writes chains to it, whoever wrote last. */
    capalloc_status (*chain_head)(void *state, capalloc_chain_head *out,
                                  capalloc_err *err);
    /* read_anchor: the anchor of a ledger migrated from before the chain:
     * *found = 1, sink->anchor once, then sink->cash for each recorded
     * balance (any order); *found = 0 and no call when the ledger has
     * none (it was chained from its first run). */
    capalloc_status (*read_anchor)(void *state,
                                   const capalloc_journal_sink *sink,
                                   int *found, capalloc_err *err);
    /* read_journal: every run with run_id > after_run_id, by run id, each
     * followed by its trade rows by log id; a row whose run does not exist
     * comes at its run id's place without a sink->run before it. First,
     * when the ledger has an anchor: the rows of runs <= after_run_id
     * whose log id is above the anchor's after_log_id (written after the
     * migration), by run id and log id. A row whose amount is not an exact
     * decimal is delivered with bad_column/bad_text, not refused (verify
     * names it). after_run_id may be INT64_MIN (every run and row).
     * Streams: memory must not grow with the ledger. */
    capalloc_status (*read_journal)(void *state, int64_t after_run_id,
                                    const capalloc_journal_sink *sink,
                                    capalloc_err *err);
    /* ABI 1.3: read only when struct_size covers it (CAPALLOC_HAS_FIELD);
     * optional (NULL: the core reads and values the whole ledger again
     * under the write lock). Inside a transaction, ONE query: the ledger's
     * change stamp, a number that changes with every committed insert,
     * update or delete of cash_equity_book, positions_book or
     * capalloc_runs (and whatever else the backend keeps of a run with
     * it), by ANY writer - capalloc, the execution system writing
     * positions, a person with a SQL prompt - and stays the same
     * otherwise. The backend keeps it in the database (triggers), not in
     * the process. Equal stamps in two transactions: those tables did not
     * change in between. In a write transaction the stamp is locked until
     * commit or rollback, so that no other writer changes those tables
     * before the caller's write (postgres: FOR UPDATE, and the triggers
     * run before each statement). */
    capalloc_status (*ledger_stamp)(void *state, int64_t *stamp,
                                    capalloc_err *err);
} capalloc_storage_plugin;

/* ------------------------------------------------------------------------ */
/* The entry point                                                           */
/* ------------------------------------------------------------------------ */

typedef const capalloc_plugin_header *(*capalloc_entry_fn)(void);

#if defined(__GNUC__)
#define CAPALLOC_EXPORT __attribute__((visibility("default")))
#else
#define CAPALLOC_EXPORT
#endif

/* Defines the one exported symbol. descriptor is a static const object of
 * one of the three descriptor types. */
#define CAPALLOC_PLUGIN_DEFINE(descriptor)                                   \
    CAPALLOC_EXPORT const capalloc_plugin_header *capalloc_plugin_entry(void); \
    CAPALLOC_EXPORT const capalloc_plugin_header *capalloc_plugin_entry(void) \
    {                                                                        \
        return &(descriptor).header;                                         \
    }

#ifdef __cplusplus
}
#endif

#endif /* CAPALLOC_PLUGIN_H */
