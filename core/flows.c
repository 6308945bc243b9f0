/*
 * flows.c - investors' flows beyond a plain ADD or WITHDRAW: the
 * investor-side reference that makes a capital movement idempotent.
 *
 * A payment system or scheduler that times out retries. With a reference
 * (its own transaction id), the retry finds the movement already booked
 * and does nothing. Two guards, one per side:
 *   - inside the movement's WRITE transaction (the ledger lock held) the
 *     core looks the reference up: the same action and amount is a repeat
 *     (a no-op, exit 0), anything else is refused;
 *   - the storage backend keeps the reference under a unique key, so that
 *     even a writer that slipped past the look-up cannot book it twice
 *     (write() says CAPALLOC_ERR_EXISTS and engine_capital re-reads).
 */
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

int flows_reference_valid(const char *ref, cap_error *e)
{
    size_t n = strlen(ref);
    if (n == 0 || n > CAPALLOC_REF_MAX)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "reference '%.*s%s' must have 1 to %d bytes",
                        40, ref, n > 40 ? "..." : "", CAPALLOC_REF_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ref[i];
        if (c < 0x20 || c == 0x7f)
            return cap_fail(e, CAP_EXIT_USAGE,
                            "reference '%.*s...' has a control character at "
                            "byte %zu",
                            (int)(i < 40 ? i : 40), ref, i + 1);
    }
    return 0;
}

int flows_storage_has_refs(const engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    return CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                              find_reference) &&
           sp->find_reference != NULL;
}

int flows_reference_check(engine *en, cap_action action, capalloc_dec amount,
                          const char *ref, capital_result *r, cap_error *e)
{
    capalloc_capital_ref cr;
    capalloc_err err = {{0}, {0}};
    int found = 0;
    capalloc_status st =
        SP(en)->find_reference(en->storage->state, ref, &cr, &found, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "looking up the reference", e);
    if (!found)
        return 0;
    const char *an = action == CAP_ADD ? "ADD" : "WITHDRAW";
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    if (strcmp(cr.action, an) != 0 || dec_cmp(cr.amount, amount) != 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "reference '%s' is already booked as %s %s %s (run "
                        "%lld, %s), not %s %s %s: refused, nothing was "
                        "written",
                        ref, cr.action, dec_format(cr.amount, mu, a, sizeof a),
                        en->cfg->currency, (long long)cr.run_id,
                        cr.created_at, an,
                        dec_format(amount, mu, b, sizeof b),
                        en->cfg->currency);
    }
    r->repeat = 1;
    r->ref_run_id = cr.run_id;
    snprintf(r->ref_created_at, sizeof r->ref_created_at, "%s",
             cr.created_at);
    return 1;
}
