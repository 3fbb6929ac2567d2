#include "identifiers.h"

#include <string.h>

#include "buf.h"
#include "model.h"

bool identifier_valid(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > IDENTIFIER_MAX)
                return false;
        bool need_alnum = true;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (alnum) {
                        need_alnum = false;
                } else if ((c == '.' || c == '_' || c == '-') && !need_alnum) {
                        need_alnum = true;
                } else {
                        return false;
                }
        }
        return !need_alnum;
}

/* The rule as containerd prints it in its messages. */
#define IDENTIFIER_RE "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$"

int namespace_required(const char *ns, bf_error *err)
{
        if (!ns || !ns[0])
                return bf_error_set(err, EINVAL, "namespace is required: failed precondition");
        if (identifier_valid(ns))
                return 0;
        /* Quoted as Go's %q would: the message stays on one line. */
        buf q = { 0 };
        json_put_string(&q, ns);
        const char *quoted = q.oom ? "\"?\"" : q.p;
        int r = strlen(ns) > IDENTIFIER_MAX ?
                        bf_error_set(err, EINVAL,
                                     "namespace validation: identifier %s greater than maximum length (%d "
                                     "characters): invalid argument",
                                     quoted, IDENTIFIER_MAX) :
                        bf_error_set(err, EINVAL,
                                     "namespace validation: identifier %s must match " IDENTIFIER_RE
                                     ": invalid argument",
                                     quoted);
        buf_free(&q);
        return r;
}
