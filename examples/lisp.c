/* examples/lisp.c — a tiny Lisp on recycle: how an interpreter uses it.
 *
 * Every Lisp value is a recycle object.  Cons cells, closures and
 * environments hold references to other values, so their types have
 * `traverse` and `clear`: the cycle collector can see them.  Symbols and
 * numbers hold none, so they are never tracked.
 *
 * A closure keeps the environment it was made in; when that environment
 * also binds the closure (every recursive local function does), the two
 * form a cycle that reference counting alone never frees.  The collector
 * does.  The symbol table is a dict of *weak* references: it finds the
 * symbol for a name without keeping unused symbols alive, and each weak
 * reference's callback removes the entry of a symbol that died.
 *
 * Under tracemalloc it is the frame source (rcy_tracemalloc_set_frame_source):
 * every evaluation frame knows the line of the expression it evaluates,
 * so snapshots and `recycle top` name the Lisp lines that allocated
 * ("fib.lisp:4"), the way Python's tracemalloc names Python lines.
 *
 *   lisp                 run the built-in demonstration
 *   lisp '(+ 1 2)' ...   evaluate each argument and print the result
 *   lisp -f FILE         evaluate the file's expressions
 *   lisp --snapshot OUT [--native] -f FILE
 *                        the same with tracemalloc on (16 frames), then
 *                        dump a snapshot of what is still allocated to OUT
 *                        (--native: Lisp frames above the C ones)
 *
 * Special forms: quote ' if define lambda let set! begin.
 * Builtins: + - * < = cons car cdr list null? display.
 */
#include <recycle.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ------------------------------------------------------------ */

typedef struct lisp lisp;

typedef struct cons {
    void *car, *cdr; /* strong references; the empty list is lisp.nil */
    unsigned line;   /* where the reader found this list; 0 = made at run time */
} cons;

typedef struct symbol {
    size_t len;
    char name[]; /* NUL-terminated */
} symbol;

typedef struct env {
    rcy_dict *vars;
    struct env *parent;
} env;

typedef struct closure {
    void *params; /* a list of symbols */
    void *body;   /* a list of expressions */
    env *env;     /* where the lambda was evaluated */
    void *name;   /* the symbol a define gave it, or NULL (a lambda) */
} closure;

typedef void *(*builtin_fn)(lisp *L, void *args);
typedef struct builtin {
    const char *name;
    builtin_fn fn;
} builtin;

typedef struct nil_obj {
    char unused;
} nil_obj;

static int cons_traverse(void *self, rcy_visitproc visit, void *arg) {
    cons *c = self;
    RCY_VISIT(c->car, visit, arg);
    RCY_VISIT(c->cdr, visit, arg);
    return 0;
}
static void cons_clear(void *self) {
    cons *c = self;
    RCY_CLEAR(c->car);
    RCY_CLEAR(c->cdr);
}
static int env_traverse(void *self, rcy_visitproc visit, void *arg) {
    env *e = self;
    RCY_VISIT(e->vars, visit, arg);
    RCY_VISIT(e->parent, visit, arg);
    return 0;
}
static void env_clear(void *self) {
    env *e = self;
    RCY_CLEAR(e->vars);
    RCY_CLEAR(e->parent);
}
static int closure_traverse(void *self, rcy_visitproc visit, void *arg) {
    closure *c = self;
    RCY_VISIT(c->params, visit, arg);
    RCY_VISIT(c->body, visit, arg);
    RCY_VISIT(c->env, visit, arg);
    RCY_VISIT(c->name, visit, arg);
    return 0;
}
static void closure_clear(void *self) {
    closure *c = self;
    RCY_CLEAR(c->params);
    RCY_CLEAR(c->body);
    RCY_CLEAR(c->env);
    RCY_CLEAR(c->name);
}

static const rcy_type cons_type = {
    .name = "cons", .size = sizeof(cons), .traverse = cons_traverse, .clear = cons_clear};
static const rcy_type env_type = {
    .name = "env", .size = sizeof(env), .traverse = env_traverse, .clear = env_clear};
static const rcy_type closure_type = {.name = "closure",
                                      .size = sizeof(closure),
                                      .traverse = closure_traverse,
                                      .clear = closure_clear};
static const rcy_type symbol_type = {.name = "symbol", .size = sizeof(symbol)};
static const rcy_type builtin_type = {.name = "builtin", .size = sizeof(builtin)};
static const rcy_type nil_type = {.name = "nil", .size = sizeof(nil_obj)};

/* ---- the interpreter --------------------------------------------------- */

/* An evaluation frame: the function being run and the line of the
 * expression it is evaluating, what the frame source reports. */
typedef struct frame {
    const char *function; /* a closure's name (its symbol is alive meanwhile) */
    unsigned line;
} frame;

struct lisp {
    rcy_heap *heap;
    void *nil, *t;     /* immortal */
    rcy_dict *symbols; /* name -> weak reference to the symbol */
    env *global;
    void *s_quote, *s_if, *s_define, *s_lambda, *s_let, *s_set, *s_begin;
    const char *file;  /* the source being run */
    unsigned line;     /* the reader's line */
    frame *frames;     /* the evaluation stack, oldest first (malloc) */
    size_t depth, cap; /* frames in use; room */
    char error[160];
};

static bool is(const void *x, const rcy_type *t) {
    return x && rcy_type_of(x) == t;
}
#define CAR(x) (((cons *)(x))->car)
#define CDR(x) (((cons *)(x))->cdr)

static void *fail(lisp *L, const char *fmt, ...) {
    if (!L->error[0]) { /* keep the innermost message */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->error, sizeof L->error, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static void *new_cons(lisp *L, void *car, void *cdr) {
    cons *c = rcy_new(L->heap, &cons_type);
    if (!c)
        return fail(L, "out of memory");
    rcy_incref(car);
    rcy_incref(cdr);
    c->car = car;
    c->cdr = cdr;
    return c;
}

/* Weak reference callback: a symbol died, so its entry leaves the table
 * (found by its weak reference: the symbol itself is gone). */
static void symbol_died(rcy_weakref *wr, void *arg) {
    lisp *L = arg;
    if (!L->symbols)
        return; /* the interpreter is shutting down */
    char key[128] = "";
    size_t pos = 0;
    const char *k;
    void *v;
    while (rcy_dict_next(L->symbols, &pos, &k, &v)) {
        if (v == wr) {
            snprintf(key, sizeof key, "%s", k);
            break;
        }
    }
    if (key[0])
        rcy_dict_del(L->symbols, key); /* may free wr: the collector holds it for this call */
}

/* The symbol named name[0..len): the one already interned while anybody
 * still uses it, else a new one. */
static void *intern(lisp *L, const char *name, size_t len) {
    char key[128];
    if (len >= sizeof key)
        return fail(L, "symbol too long");
    memcpy(key, name, len);
    key[len] = 0;
    rcy_weakref *ref = rcy_dict_get(L->symbols, key);
    if (ref) {
        void *sym = rcy_weakref_get(ref); /* new reference, or NULL if dead */
        if (sym)
            return sym;
    }
    symbol *s = rcy_new_var(L->heap, &symbol_type, len + 1);
    if (!s)
        return fail(L, "out of memory");
    s->len = len;
    memcpy(s->name, key, len + 1);
    rcy_weakref *w = rcy_weakref_new(s, symbol_died, L);
    if (!w || rcy_dict_set(L->symbols, key, w) < 0) {
        rcy_xdecref(w);
        rcy_decref(s);
        return fail(L, "out of memory");
    }
    rcy_decref(w);
    return s;
}

static const char *sym_name(const void *s) {
    return ((const symbol *)s)->name;
}

/* ---- evaluation frames ----------------------------------------------------- */

static bool push_frame(lisp *L, const char *function) {
    if (L->depth == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 64;
        frame *f = realloc(L->frames, cap * sizeof *f);
        if (!f)
            return fail(L, "out of memory"), false;
        L->frames = f;
        L->cap = cap;
    }
    unsigned line = L->depth ? L->frames[L->depth - 1].line : 0; /* the call's line */
    L->frames[L->depth++] = (frame){function, line};
    return true;
}

static void pop_frame(lisp *L) {
    L->depth--;
}

/* The frame source: the Lisp stack, most recent first.  Strings are the
 * interpreter's (file name, symbol names): the tracer copies them. */
static size_t lisp_frames(rcy_source_frame *out, size_t max, void *arg) {
    lisp *L = arg;
    for (size_t i = 0; i < L->depth && i < max; i++) {
        const frame *f = &L->frames[L->depth - 1 - i];
        out[i] = (rcy_source_frame){L->file, f->line, f->function};
    }
    return L->depth;
}

/* ---- reader ------------------------------------------------------------ */

static void *read_expr(lisp *L, const char **p);

static void skip_space(lisp *L, const char **p) {
    for (;;) {
        for (; isspace((unsigned char)**p); (*p)++)
            L->line += **p == '\n';
        if (**p != ';')
            return;
        while (**p && **p != '\n')
            (*p)++;
    }
}

static void *read_list(lisp *L, const char **p) {
    skip_space(L, p);
    if (**p == ')') {
        (*p)++;
        rcy_incref(L->nil);
        return L->nil;
    }
    if (!**p)
        return fail(L, "missing ')'");
    rcy_auto void *head = read_expr(L, p);
    if (!head)
        return NULL;
    unsigned line = L->line;
    rcy_auto void *tail = read_list(L, p);
    if (!tail)
        return NULL;
    cons *c = new_cons(L, head, tail);
    if (c)
        c->line = line;
    return c;
}

static void *read_expr(lisp *L, const char **p) {
    skip_space(L, p);
    const char *s = *p;
    if (!*s)
        return fail(L, "unexpected end of input");
    if (*s == '(') {
        (*p)++;
        return read_list(L, p);
    }
    if (*s == ')')
        return fail(L, "unexpected ')'");
    if (*s == '\'') {
        (*p)++;
        rcy_auto void *quoted = read_expr(L, p);
        if (!quoted)
            return NULL;
        rcy_auto void *rest = new_cons(L, quoted, L->nil);
        return rest ? new_cons(L, L->s_quote, rest) : NULL;
    }
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]) && s[n] != '(' && s[n] != ')')
        n++;
    *p = s + n;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s + n && (isdigit((unsigned char)s[0]) || (n > 1 && s[0] == '-'))) {
        rcy_int *i = rcy_int_new(L->heap, v);
        return i ? (void *)i : fail(L, "out of memory");
    }
    return intern(L, s, n);
}

/* ---- printer ----------------------------------------------------------- */

static void print(lisp *L, const void *x, FILE *out) {
    if (x == L->nil) {
        fputs("()", out);
    } else if (is(x, &rcy_int_type)) {
        fprintf(out, "%ld", rcy_int_value(x));
    } else if (is(x, &symbol_type)) {
        fputs(sym_name(x), out);
    } else if (is(x, &closure_type)) {
        fputs("#<closure>", out);
    } else if (is(x, &builtin_type)) {
        fprintf(out, "#<builtin %s>", ((const builtin *)x)->name);
    } else if (is(x, &cons_type)) {
        fputc('(', out);
        for (;;) {
            print(L, CAR(x), out);
            x = CDR(x);
            if (!is(x, &cons_type))
                break;
            fputc(' ', out);
        }
        if (x != L->nil) {
            fputs(" . ", out);
            print(L, x, out);
        }
        fputc(')', out);
    } else {
        fprintf(out, "#<%s>", rcy_type_of(x)->name);
    }
}

/* ---- environments ------------------------------------------------------- */

static env *new_env(lisp *L, env *parent) {
    env *e = rcy_new(L->heap, &env_type);
    if (!e)
        return fail(L, "out of memory");
    e->vars = rcy_dict_new(L->heap);
    if (!e->vars) {
        rcy_decref(e);
        return fail(L, "out of memory");
    }
    rcy_xincref(parent);
    e->parent = parent;
    return e;
}

static int bind(lisp *L, env *e, void *sym, void *value) {
    if (rcy_dict_set(e->vars, sym_name(sym), value) < 0) {
        fail(L, "out of memory");
        return -1;
    }
    return 0;
}

static env *find_env(env *e, const void *sym) {
    for (; e; e = e->parent)
        if (rcy_dict_get(e->vars, sym_name(sym)))
            return e;
    return NULL;
}

/* ---- eval --------------------------------------------------------------- */

static void *eval(lisp *L, void *x, env *e);

/* Evaluate each expression of a list; the value of the last one. */
static void *eval_body(lisp *L, void *body, env *e) {
    void *result = L->nil;
    rcy_incref(result);
    for (; is(body, &cons_type); body = CDR(body)) {
        rcy_decref(result);
        result = eval(L, CAR(body), e);
        if (!result)
            return NULL;
    }
    return result;
}

static void *eval_args(lisp *L, void *args, env *e) {
    if (!is(args, &cons_type)) {
        rcy_incref(L->nil);
        return L->nil;
    }
    rcy_auto void *head = eval(L, CAR(args), e);
    if (!head)
        return NULL;
    rcy_auto void *tail = eval_args(L, CDR(args), e);
    if (!tail)
        return NULL;
    return new_cons(L, head, tail);
}

static void *make_closure(lisp *L, void *params, void *body, env *e) {
    closure *c = rcy_new(L->heap, &closure_type);
    if (!c)
        return fail(L, "out of memory");
    rcy_incref(params);
    rcy_incref(body);
    rcy_incref(e);
    c->params = params;
    c->body = body;
    c->env = e;
    return c;
}

static void *apply(lisp *L, void *fn, void *args) {
    if (is(fn, &builtin_type))
        return ((builtin *)fn)->fn(L, args);
    if (!is(fn, &closure_type))
        return fail(L, "not a function");
    closure *c = fn;
    rcy_auto env *vars = new_env(L, c->env);
    if (!vars)
        return NULL;
    void *p = c->params, *a = args;
    for (; is(p, &cons_type); p = CDR(p), a = CDR(a)) {
        if (!is(a, &cons_type))
            return fail(L, "too few arguments");
        if (bind(L, vars, CAR(p), CAR(a)) < 0)
            return NULL;
    }
    if (a != L->nil)
        return fail(L, "too many arguments");
    if (!push_frame(L, c->name ? sym_name(c->name) : "lambda"))
        return NULL;
    void *v = eval_body(L, c->body, vars);
    pop_frame(L);
    return v;
}

static void *second(lisp *L, void *x) {
    return is(CDR(x), &cons_type) ? CAR(CDR(x)) : fail(L, "malformed form");
}

static void *eval_form(lisp *L, void *x, env *e);

/* The current frame is at x's line while x is evaluated. */
static void *eval(lisp *L, void *x, env *e) {
    if (!is(x, &cons_type) || !((cons *)x)->line || !L->depth)
        return eval_form(L, x, e);
    frame *f = &L->frames[L->depth - 1];
    unsigned saved = f->line;
    f->line = ((cons *)x)->line;
    void *v = eval_form(L, x, e);
    L->frames[L->depth - 1].line = saved; /* frames may have moved */
    return v;
}

static void *eval_form(lisp *L, void *x, env *e) {
    if (is(x, &symbol_type)) {
        env *where = find_env(e, x);
        if (!where)
            return fail(L, "unbound symbol: %s", sym_name(x));
        void *v = rcy_dict_get(where->vars, sym_name(x));
        rcy_incref(v);
        return v;
    }
    if (!is(x, &cons_type)) { /* numbers, nil: themselves */
        rcy_incref(x);
        return x;
    }
    void *op = CAR(x);
    if (op == L->s_quote) {
        void *q = second(L, x);
        rcy_xincref(q);
        return q;
    }
    if (op == L->s_if) {
        void *test_expr = second(L, x);
        if (!test_expr || !is(CDR(CDR(x)), &cons_type))
            return fail(L, "malformed if");
        void *test = eval(L, test_expr, e);
        if (!test)
            return NULL;
        bool truth = test != L->nil;
        rcy_decref(test);
        void *branches = CDR(CDR(x));
        if (truth)
            return eval(L, CAR(branches), e);
        return eval_body(L, CDR(branches), e); /* no else: nil */
    }
    if (op == L->s_define || op == L->s_set) {
        void *target = second(L, x);
        if (!target)
            return NULL;
        rcy_auto void *value = NULL;
        if (op == L->s_define && is(target, &cons_type)) {
            /* (define (name params...) body...) */
            value = make_closure(L, CDR(target), CDR(CDR(x)), e);
            target = CAR(target);
            if (value && is(target, &symbol_type)) {
                rcy_incref(target);
                ((closure *)value)->name = target;
            }
        } else if (is(CDR(CDR(x)), &cons_type)) {
            value = eval(L, CAR(CDR(CDR(x))), e);
        } else {
            return fail(L, "malformed define");
        }
        if (!value)
            return NULL;
        if (!is(target, &symbol_type))
            return fail(L, "can only bind symbols");
        env *where = e;
        if (op == L->s_set && !(where = find_env(e, target)))
            return fail(L, "set! of unbound symbol: %s", sym_name(target));
        if (bind(L, where, target, value) < 0)
            return NULL;
        rcy_incref(target);
        return target;
    }
    if (op == L->s_lambda) {
        void *params = second(L, x);
        return params ? make_closure(L, params, CDR(CDR(x)), e) : NULL;
    }
    if (op == L->s_let) {
        /* (let ((name value)...) body...) */
        rcy_auto env *inner = new_env(L, e);
        void *bindings = second(L, x);
        if (!inner || !bindings)
            return NULL;
        for (; is(bindings, &cons_type); bindings = CDR(bindings)) {
            void *b = CAR(bindings);
            if (!is(b, &cons_type) || !is(CDR(b), &cons_type))
                return fail(L, "malformed let");
            rcy_auto void *v = eval(L, CAR(CDR(b)), e);
            if (!v || bind(L, inner, CAR(b), v) < 0)
                return NULL;
        }
        return eval_body(L, CDR(CDR(x)), inner);
    }
    if (op == L->s_begin)
        return eval_body(L, CDR(x), e);
    rcy_auto void *fn = eval(L, op, e);
    if (!fn)
        return NULL;
    rcy_auto void *args = eval_args(L, CDR(x), e);
    if (!args)
        return NULL;
    return apply(L, fn, args);
}

/* ---- builtins ------------------------------------------------------------ */

static bool int_args(lisp *L, void *args, long *a, long *b) {
    if (!is(args, &cons_type) || !is(CDR(args), &cons_type) || !is(CAR(args), &rcy_int_type) ||
        !is(CAR(CDR(args)), &rcy_int_type)) {
        fail(L, "expected two numbers");
        return false;
    }
    *a = rcy_int_value(CAR(args));
    *b = rcy_int_value(CAR(CDR(args)));
    return true;
}

static void *number(lisp *L, long v) {
    rcy_int *i = rcy_int_new(L->heap, v);
    return i ? (void *)i : fail(L, "out of memory");
}

static void *truth(lisp *L, bool b) {
    void *v = b ? L->t : L->nil;
    rcy_incref(v);
    return v;
}

static void *b_add(lisp *L, void *args) {
    long a, b;
    return int_args(L, args, &a, &b) ? number(L, a + b) : NULL;
}
static void *b_sub(lisp *L, void *args) {
    long a, b;
    return int_args(L, args, &a, &b) ? number(L, a - b) : NULL;
}
static void *b_mul(lisp *L, void *args) {
    long a, b;
    return int_args(L, args, &a, &b) ? number(L, a * b) : NULL;
}
static void *b_lt(lisp *L, void *args) {
    long a, b;
    return int_args(L, args, &a, &b) ? truth(L, a < b) : NULL;
}
static void *b_eq(lisp *L, void *args) {
    long a, b;
    return int_args(L, args, &a, &b) ? truth(L, a == b) : NULL;
}
static void *b_cons(lisp *L, void *args) {
    if (!is(args, &cons_type) || !is(CDR(args), &cons_type))
        return fail(L, "cons needs two arguments");
    return new_cons(L, CAR(args), CAR(CDR(args)));
}
static void *b_car(lisp *L, void *args) {
    if (!is(args, &cons_type) || !is(CAR(args), &cons_type))
        return fail(L, "car of a non-pair");
    rcy_incref(CAR(CAR(args)));
    return CAR(CAR(args));
}
static void *b_cdr(lisp *L, void *args) {
    if (!is(args, &cons_type) || !is(CAR(args), &cons_type))
        return fail(L, "cdr of a non-pair");
    rcy_incref(CDR(CAR(args)));
    return CDR(CAR(args));
}
static void *b_list(lisp *L, void *args) {
    (void)L;
    rcy_incref(args);
    return args;
}
static void *b_nullp(lisp *L, void *args) {
    if (!is(args, &cons_type))
        return fail(L, "null? needs an argument");
    return truth(L, CAR(args) == L->nil);
}
static void *b_display(lisp *L, void *args) {
    for (void *a = args; is(a, &cons_type); a = CDR(a)) {
        print(L, CAR(a), stdout);
        fputc(is(CDR(a), &cons_type) ? ' ' : '\n', stdout);
    }
    rcy_incref(L->nil);
    return L->nil;
}

static const struct {
    const char *name;
    builtin_fn fn;
} builtins[] = {
    {"+", b_add},     {"-", b_sub},       {"*", b_mul},           {"<", b_lt},
    {"=", b_eq},      {"cons", b_cons},   {"car", b_car},         {"cdr", b_cdr},
    {"list", b_list}, {"null?", b_nullp}, {"display", b_display},
};

/* ---- set-up and tear-down -------------------------------------------------- */

static void *special(lisp *L, const char *name) {
    void *s = intern(L, name, strlen(name));
    if (s)
        rcy_immortalize(s); /* the evaluator compares with these forever */
    return s;
}

static int lisp_init(lisp *L) {
    memset(L, 0, sizeof *L);
    L->heap = rcy_heap_new(NULL);
    if (!L->heap)
        return -1;
    L->nil = rcy_new(L->heap, &nil_type);
    L->symbols = rcy_dict_new(L->heap);
    if (!L->nil || !L->symbols)
        return -1;
    rcy_immortalize(L->nil);
    if (!(L->t = special(L, "t")) || !(L->s_quote = special(L, "quote")) ||
        !(L->s_if = special(L, "if")) || !(L->s_define = special(L, "define")) ||
        !(L->s_lambda = special(L, "lambda")) || !(L->s_let = special(L, "let")) ||
        !(L->s_set = special(L, "set!")) || !(L->s_begin = special(L, "begin")))
        return -1;
    if (!(L->global = new_env(L, NULL)))
        return -1;
    if (bind(L, L->global, L->t, L->t) < 0)
        return -1;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        builtin *b = rcy_new(L->heap, &builtin_type);
        rcy_auto void *sym = intern(L, builtins[i].name, strlen(builtins[i].name));
        if (!b || !sym)
            return -1;
        b->name = builtins[i].name;
        b->fn = builtins[i].fn;
        int rc = bind(L, L->global, sym, b);
        rcy_decref(b);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void lisp_free(lisp *L) {
    if (rcy_tracemalloc_get_frame_source(NULL, NULL) == lisp_frames)
        rcy_tracemalloc_set_frame_source(NULL, NULL);
    RCY_CLEAR(L->global);
    RCY_CLEAR(L->symbols);
    if (L->heap)
        rcy_heap_free(L->heap); /* frees the immortal objects too */
    free(L->frames);
}

/* Read and evaluate every expression of src; print the last value (or the
 * error). */
static int run(lisp *L, const char *file, const char *src, bool echo) {
    const char *p = src;
    int status = 0;
    L->file = file;
    L->line = 1;
    if (!push_frame(L, "<toplevel>"))
        return 1;
    for (;;) {
        skip_space(L, &p);
        if (!*p)
            break;
        L->error[0] = 0;
        L->frames[0].line = L->line; /* what the reader allocates */
        rcy_auto void *expr = read_expr(L, &p);
        rcy_auto void *value = expr ? eval(L, expr, L->global) : NULL;
        if (!value) {
            printf("error: %s\n", L->error);
            status = 1;
            break;
        }
        if (echo) {
            print(L, value, stdout);
            putchar('\n');
        }
    }
    L->depth = 0;
    return status;
}

/* How many objects the collector tracks: cons cells, environments,
 * closures, dicts (symbols and numbers are never tracked). */
static size_t tracked_objects(lisp *L) {
    rcy_list *all = rcy_gc_get_objects(L->heap, -1);
    size_t n = all ? rcy_list_len(all) : 0;
    rcy_xdecref(all);
    return n;
}

static const char *weak_alive(rcy_weakref *w) {
    void *obj = rcy_weakref_get(w);
    rcy_xdecref(obj);
    return obj ? "yes" : "no";
}

/* ---- the demonstration ----------------------------------------------------- */

static const char *const program[] = {
    "(define (fact n) (if (< n 2) 1 (* n (fact (- n 1)))))",
    "(fact 20)",
    "(define (map f l) (if (null? l) '() (cons (f (car l)) (map f (cdr l)))))",
    "(map (lambda (x) (* x x)) '(1 2 3 4 5))",
    "(define (make-counter) (let ((n 0)) (lambda () (set! n (+ n 1)) n)))",
    "(define c (make-counter))",
    "(begin (c) (c) (c))",
};

/* Each call makes a frame in which `add` is bound to a closure over that
 * same frame: frame -> vars -> closure -> frame.  A cycle per call. */
static const char *const cycles =
    "(define (make-adder k) (define (add x) (+ x k)) add)\n"
    "(define (churn n) (if (= n 0) 'done (begin (make-adder n) (churn (- n 1)))))\n"
    "(churn 1000)";

static int demo(lisp *L) {
    for (size_t i = 0; i < sizeof program / sizeof program[0]; i++) {
        printf("> %s\n", program[i]);
        if (run(L, "<demo>", program[i], true))
            return 1;
    }

    puts("\nClosures that refer to their own frame form cycles; with the");
    puts("collector off, reference counting alone cannot free them:");
    rcy_gc_disable(L->heap);
    rcy_gc_collect(L->heap, -1);
    size_t before = tracked_objects(L);
    printf("> %s\n", cycles);
    if (run(L, "<demo>", cycles, true))
        return 1;
    size_t after = tracked_objects(L);
    printf("tracked objects: %zu before, %zu after 1000 calls that returned\n", before, after);
    ssize_t found = rcy_gc_collect(L->heap, -1);
    printf("rcy_gc_collect() found %zd unreachable objects; %zu tracked objects remain\n", found,
           tracked_objects(L));
    rcy_gc_enable(L->heap);

    puts("\nThe symbol table holds weak references: a symbol nobody uses");
    puts("any more disappears from it.");
    size_t before_sym = rcy_dict_len(L->symbols);
    rcy_auto void *tmp = intern(L, "a-passing-thought", 17);
    rcy_weakref *w = rcy_dict_get(L->symbols, "a-passing-thought");
    rcy_incref(w); /* ours: the table's goes when the symbol dies */
    printf("interned a-passing-thought: %zu -> %zu symbols; weak reference alive: %s\n", before_sym,
           rcy_dict_len(L->symbols), weak_alive(w));
    RCY_CLEAR(tmp);
    printf("dropped it: %zu symbols; weak reference alive: %s (its callback removed the entry)\n",
           rcy_dict_len(L->symbols), weak_alive(w));
    rcy_decref(w);
    return 0;
}

/* The whole file at path, NUL-terminated (malloc), or NULL. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (cap - len < 4096) {
            char *b = realloc(buf, cap = cap * 2 + 4096);
            if (!b)
                break;
            buf = b;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    if (buf)
        buf[len] = 0;
    return buf;
}

/* lisp [--snapshot OUT [--native]] -f FILE: run a file, under tracemalloc
 * with a snapshot of what it left allocated when OUT is given. */
static int run_file(lisp *L, const char *path, const char *out, bool native) {
    char *src = read_file(path);
    if (!src) {
        fprintf(stderr, "lisp: cannot read %s\n", path);
        return 1;
    }
    if (out) {
        rcy_tracemalloc_set_frame_source_flags(lisp_frames, L, native ? RCY_FRAMES_NATIVE : 0);
        rcy_tracemalloc_start(16);
    }
    int status = run(L, path, src, false);
    free(src);
    if (out) {
        rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
        int rc = s ? rcy_snapshot_dump(s, out) : RCY_ENOMEM;
        rcy_snapshot_free(s);
        rcy_tracemalloc_stop();
        if (rc != RCY_OK) {
            fprintf(stderr, "lisp: cannot write %s: %s\n", out, rcy_strerror(rc));
            status = 1;
        }
    }
    return status;
}

int main(int argc, char **argv) {
    lisp L;
    int status = 1;
    const char *file = NULL, *out = NULL;
    bool native = false;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--native") == 0)
            native = true;
        else
            break;
    }
    if (lisp_init(&L) < 0) {
        fprintf(stderr, "lisp: cannot start: %s\n", L.error[0] ? L.error : "out of memory");
    } else if (file) {
        status = run_file(&L, file, out, native);
    } else if (argc > 1) {
        /* Under RCY_TRACEMALLOC, allocations name the Lisp lines too. */
        rcy_tracemalloc_set_frame_source(lisp_frames, &L);
        status = 0;
        for (; i < argc && status == 0; i++)
            status = run(&L, "<arg>", argv[i], true);
    } else {
        rcy_tracemalloc_set_frame_source(lisp_frames, &L);
        status = demo(&L);
    }
    lisp_free(&L);
    return status;
}
