#include "caps.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "util.h"

static char names[CAPS_KNOWN][32];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_init(void)
{
        for (unsigned i = 0; i < CAPS_KNOWN; i++) {
                char *n = cap_to_name((cap_value_t) i);
                snprintf(names[i], sizeof(names[i]), "%s", n ? n : "");
                if (n)
                        cap_free(n);
                for (char *p = names[i]; *p; p++)
                        *p = (char) toupper((unsigned char) *p);
        }
}

const char *caps_name(unsigned cap)
{
        if (cap >= CAPS_KNOWN)
                return NULL;
        pthread_once(&names_once, names_init);
        return names[cap];
}

int caps_current(const char **ret_names, size_t *ret_n, bf_error *err)
{
        cap_t c = cap_get_proc();
        if (!c)
                return bf_error_set(err, errno, "reading this process's capabilities: %s", strerror(errno));
        size_t n = 0;
        for (unsigned i = 0; i < CAPS_KNOWN; i++) {
                cap_flag_value_t v = CAP_CLEAR;
                if (cap_get_flag(c, (cap_value_t) i, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET)
                        ret_names[n++] = caps_name(i);
        }
        cap_free(c);
        *ret_n = n;
        return 0;
}

int caps_canonical(const char *name, const char **ret, bf_error *err)
{
        char lower[64];
        size_t n = strlen(name);
        if (n == 0 || n >= sizeof(lower) - 4)
                return bf_error_set(err, EINVAL, "unknown capability \"%s\"", name);
        /* libcap also reads numbers; only names are capability names here */
        if (isdigit((unsigned char) name[0]))
                return bf_error_set(err, EINVAL, "unknown capability \"%s\" (use its name)", name);
        size_t off = 0;
        if (strncasecmp(name, "cap_", 4) != 0) {
                memcpy(lower, "cap_", 4);
                off = 4;
        }
        for (size_t i = 0; i <= n; i++)
                lower[off + i] = (char) tolower((unsigned char) name[i]);
        /* cap_from_name reads a name from the start of the text and ignores
         * what follows it ("cap_chown;reboot" is CAP_CHOWN): the whole text
         * must be the name. */
        cap_value_t v;
        if (cap_from_name(lower, &v) < 0 || v < 0 || v >= CAPS_KNOWN || strcasecmp(lower, caps_name((unsigned) v)) != 0)
                return bf_error_set(err, EINVAL, "unknown capability \"%s\"", name);
        *ret = caps_name((unsigned) v);
        return 0;
}
