/* The C half of dict_tracking.py. */
#include "fid.h"

static const char *py_bool(bool b) {
    return b ? "True" : "False";
}

int main(void) {
    rcy_heap *h = fid_heap();
    rcy_dict *d = rcy_dict_new(h);
    printf("empty dict %s\n", py_bool(rcy_gc_is_tracked(d)));
    rcy_int *one = rcy_int_new(h, 1);
    rcy_dict_set(d, "one", one);
    rcy_decref(one);
    printf("dict of ints %s\n", py_bool(rcy_gc_is_tracked(d)));
    rcy_dict *inner = rcy_dict_new(h);
    rcy_dict_set(d, "inner", inner);
    printf("dict holding a dict %s\n", py_bool(rcy_gc_is_tracked(d)));
    printf("the inner dict %s\n", py_bool(rcy_gc_is_tracked(inner)));
    rcy_list *l = rcy_list_new(h);
    rcy_dict_set(inner, "list", l);
    rcy_decref(l);
    printf("the inner dict holding a list %s\n", py_bool(rcy_gc_is_tracked(inner)));
    rcy_decref(inner);
    rcy_dict_del(d, "inner");
    printf("after the del %s\n", py_bool(rcy_gc_is_tracked(d)));
    rcy_gc_collect(h, 2);
    printf("after a full collection %s\n", py_bool(rcy_gc_is_tracked(d)));
    l = rcy_list_new(h);
    printf("empty list %s\n", py_bool(rcy_gc_is_tracked(l)));
    rcy_decref(l);
    rcy_dict *e = rcy_dict_new(h);
    rcy_dict_set(e, "self", e);
    rcy_decref(e);
    printf("a dict holding itself: collected %zd\n", rcy_gc_collect(h, 2));
    rcy_decref(d);
    rcy_heap_free(h);
    return 0;
}
