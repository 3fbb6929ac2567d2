/* A line's canonical text, for tests that compare lines as text. */
#pragma once

#include "buf.h"
#include "optline.h"

/* Valid until eight more calls. */
static inline const char *text_of(const struct optline *l)
{
        static buf ring[8];
        static unsigned next;
        buf *b = &ring[next++ % 8];
        b->len = 0;
        optline_print(b, l);
        return b->p ? b->p : "";
}
