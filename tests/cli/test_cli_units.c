/* tests/cli/test_cli_units.c — the parts of the recycle command that need no
 * traced run: the ELF check, the PATH search, JSON/SVG/HTML rendering from
 * a hand-made report model, and the argument helpers. */
#define _GNU_SOURCE
#include "testutil.h"

#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The stream writes into a heap-allocated holder, not a local: with &local
 * passed to open_memstream, gcc 12 -O2 takes every pointer into the result
 * for a pointer to that local (a false -Wdangling-pointer once inlined). */
static char *render(int (*fn)(const cli_report *, FILE *), const cli_report *r) {
    struct {
        char *buf;
        size_t len;
    } *m = calloc(1, sizeof *m);
    assert_non_null(m);
    FILE *f = open_memstream(&m->buf, &m->len);
    assert_non_null(f);
    assert_int_equal(fn(r, f), 0);
    fclose(f);
    char *buf = m->buf;
    free(m);
    return buf;
}

static char *write_temp(const char *content, size_t n) {
    static char path[64];
    strcpy(path, "/tmp/rcy_cli_unitXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

/* ---- ELF check ---------------------------------------------------- */

static void elf_dynamic_program_is_hookable(void **state) {
    (void)state;
    const char *target = getenv("CLI_TARGET");
    assert_non_null(target);
    char interp[256];
    assert_int_equal(cli_elf_classify(target, interp, sizeof interp), CLI_ELF_DYNAMIC);
    assert_int_equal(cli_elf_classify("/bin/sh", interp, sizeof interp), CLI_ELF_DYNAMIC);
}

static void elf_static_program_is_detected(void **state) {
    (void)state;
    const char *st = getenv("CLI_STATIC");
    assert_non_null(st);
    char interp[256];
    assert_int_equal(cli_elf_classify(st, interp, sizeof interp), CLI_ELF_STATIC);
}

static void elf_script_follows_its_interpreter(void **state) {
    (void)state;
    const char text[] = "#!/bin/sh -e\necho hi\n";
    char *path = write_temp(text, sizeof text - 1);
    char interp[256], final[256];
    assert_int_equal(cli_elf_classify(path, interp, sizeof interp), CLI_ELF_SCRIPT);
    assert_string_equal(interp, "/bin/sh");
    assert_int_equal(cli_elf_check_program(path, final, sizeof final), CLI_ELF_DYNAMIC);
    assert_string_equal(final, "/bin/sh");
    unlink(path);

    /* A script whose interpreter is static is static. */
    char text2[512];
    snprintf(text2, sizeof text2, "#!%s\n", getenv("CLI_STATIC"));
    path = write_temp(text2, strlen(text2));
    assert_int_equal(cli_elf_check_program(path, final, sizeof final), CLI_ELF_STATIC);
    unlink(path);
}

static void elf_rejects_junk_without_crashing(void **state) {
    (void)state;
    char interp[256];
    assert_int_equal(cli_elf_classify("/nonexistent/x", interp, sizeof interp), CLI_ELF_ERROR);
    const char text[] = "plain text, not a program\n";
    char *path = write_temp(text, sizeof text - 1);
    assert_int_equal(cli_elf_classify(path, interp, sizeof interp), CLI_ELF_NOT_ELF);
    unlink(path);
    /* An ELF header cut short, and one whose program headers point
     * outside the file. */
    unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    path = write_temp((const char *)elf, 20);
    assert_int_equal(cli_elf_classify(path, interp, sizeof interp), CLI_ELF_ERROR);
    unlink(path);
    elf[32] = 0xff; /* e_phoff far away */
    elf[33] = 0xff;
    elf[54] = 56; /* e_phentsize */
    elf[56] = 3;  /* e_phnum */
    path = write_temp((const char *)elf, sizeof elf);
    assert_int_equal(cli_elf_classify(path, interp, sizeof interp), CLI_ELF_ERROR);
    unlink(path);
    /* A loop of scripts ends in an error, not a hang. */
    char loop[128];
    strcpy(loop, "/tmp/rcy_cli_loopXXXXXX");
    int fd = mkstemp(loop);
    assert_true(fd >= 0);
    dprintf(fd, "#!%s\n", loop);
    close(fd);
    char final[256];
    assert_int_equal(cli_elf_check_program(loop, final, sizeof final), CLI_ELF_ERROR);
    unlink(loop);
}

static void path_search_is_execvp_s(void **state) {
    (void)state;
    char out[4096];
    int err = 0;
    assert_true(cli_find_program("sh", out, sizeof out, &err));
    assert_int_equal(access(out, X_OK), 0);
    assert_false(cli_find_program("no-such-program-rcy", out, sizeof out, &err));
    assert_int_equal(err, ENOENT);
    assert_false(cli_find_program("/etc/passwd", out, sizeof out, &err));
    assert_int_equal(err, EACCES);
    assert_false(cli_find_program("/", out, sizeof out, &err));
    assert_true(cli_find_program("/bin/sh", out, sizeof out, &err));
    assert_string_equal(out, "/bin/sh");
}

/* ---- the report model --------------------------------------------- */

static cli_report sample_report(rcy_sample *s, size_t n) {
    cli_report r = {0};
    r.title = strdup("recycle: ./prog </script><b>x</b>");
    r.summary[0][0] = strdup("command");
    r.summary[0][1] = strdup("./prog \xff\xfe bad utf-8");
    r.nsummary = 1;
    for (size_t i = 0; i < n; i++)
        s[i] = (rcy_sample){.time_ns = i * 10000000ull,
                            .current = (i < n / 2 ? i : n - i) * 1024 * 1024,
                            .peak = (i < n / 2 ? i : n / 2) * 1024 * 1024};
    r.samples = s;
    r.nsamples = n;
    r.have_peak = true;
    r.peak = (uint64_t)(n / 2) * 1024 * 1024;
    r.peak_t = (double)(n / 2) * 0.01;
    /* main -> make (twice: merged) and main -> other, at exit */
    r.flame = cli_flame_new(UINT32_MAX);
    uint32_t main_id = cli_frame_id(&r.frames, "main (prog.c:10)", "main");
    uint32_t make_id = cli_frame_id(&r.frames, "make (prog.c:3)", "make");
    uint32_t other_id = cli_frame_id(&r.frames, "other (prog.c:7)", "other");
    cli_flame *m = cli_flame_child(r.flame, main_id);
    cli_flame_add_value(cli_flame_child(m, make_id), CLI_M_EXIT_BYTES, 200);
    cli_flame_add_value(cli_flame_child(m, make_id), CLI_M_EXIT_BYTES, 50);
    cli_flame_add_value(cli_flame_child(m, other_id), CLI_M_EXIT_BYTES, 50);
    cli_flame_add_value(cli_flame_child(m, other_id), CLI_M_ALLOCS, 7);
    cli_table *t = &r.tables[r.ntables++];
    *t = (cli_table){.id = "exit", .title = "Top lines still allocated at exit"};
    t->rows = calloc(1, sizeof *t->rows);
    t->rows[0] = (cli_row){.where = strdup("prog.c:3"),
                           .text = strdup("prog.c:3: size=250 B, count=2"),
                           .size = 250,
                           .count = 2};
    t->nrows = 1;
    r.tables[r.ntables++] =
        (cli_table){.id = "peak", .title = "Top lines at peak", .empty = "no copy at peak"};
    return r;
}

static void flame_nodes_merge_by_frame_and_sum_up_the_tree(void **state) {
    (void)state;
    rcy_sample s[4];
    cli_report r = sample_report(s, 4);
    /* a label is interned once, with its function */
    assert_int_equal(r.frames.n, 3);
    assert_int_equal(cli_frame_id(&r.frames, "make (prog.c:3)", "make"), 1);
    assert_int_equal(r.frames.n, 3);
    assert_string_equal(r.frames.func[1], "make");
    assert_string_equal(r.frames.func[cli_frame_id(&r.frames, "0x1234", NULL)], "0x1234");
    cli_flame *m = r.flame->children;
    assert_int_equal(m->frame, 0);
    assert_null(m->next);
    size_t kids = 0;
    uint64_t make = 0;
    for (cli_flame *c = m->children; c; c = c->next) {
        kids++;
        if (c->frame == 1)
            make = c->v[CLI_M_EXIT_BYTES];
        assert_ptr_equal(c->parent, m);
    }
    assert_int_equal(kids, 2);
    assert_int_equal(make, 250);
    /* every value reaches every ancestor */
    assert_int_equal(m->v[CLI_M_EXIT_BYTES], 300);
    assert_int_equal(r.flame->v[CLI_M_EXIT_BYTES], 300);
    assert_int_equal(r.flame->v[CLI_M_ALLOCS], 7);
    cli_flame_add_value(m, CLI_M_ALLOCATED, UINT64_MAX);
    cli_flame_add_value(m, CLI_M_ALLOCATED, 5);
    assert_true(r.flame->v[CLI_M_ALLOCATED] == UINT64_MAX); /* saturates */
    cli_report_clear(&r);
}

static void json_is_safe_inside_a_script_element(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_json_string(f, "a</script>\"\\\n\x01\xc3\xa9\xff");
    fclose(f);
    assert_string_equal(buf, "\"a\\u003c/script\\u003e\\\"\\\\\\u000a\\u0001\xc3\xa9\\ufffd\"");
    free(buf);
}

static void json_has_every_part_of_the_report(void **state) {
    (void)state;
    rcy_sample s[100];
    cli_report r = sample_report(s, 100);
    char *j = render(cli_render_json, &r);
    assert_null(strstr(j, "</"));
    assert_non_null(strstr(j, "\"timeline\":{\"t\":[0.000000,0.010000,"));
    assert_non_null(strstr(j, "\"peak\":{\"t\":0.500000,\"bytes\":52428800}"));
    assert_non_null(strstr(j, "\"metrics\":[\"peak_bytes\",\"peak_blocks\",\"allocations\","
                              "\"allocated\",\"temporary\",\"exit_bytes\",\"exit_blocks\","
                              "\"lost_bytes\",\"lost_blocks\"]"));
    assert_non_null(strstr(j, "\"frames\":[\"main (prog.c:10)\",\"make (prog.c:3)\","
                              "\"other (prog.c:7)\"],\"funcs\":[\"main\",\"make\",\"other\"]"));
    /* the tree in preorder: [parent, frame, 9 values]; the root first */
    assert_non_null(strstr(j, "\"tree\":[[-1,-1,0,0,7,0,0,300,0,0,0],[0,0,0,0,7,0,0,300,0,0,0],"));
    assert_non_null(strstr(j, "[1,1,0,0,0,0,0,250,0,0,0]"));
    assert_non_null(strstr(j, "[1,2,0,0,7,0,0,50,0,0,0]"));
    assert_non_null(strstr(j,
                           "\"tables\":[{\"id\":\"exit\",\"title\":\"Top lines still allocated at "
                           "exit\",\"empty\":\"Nothing.\",\"counters\":false,\"rows\":[{\"where\":"
                           "\"prog.c:3\""));
    assert_non_null(strstr(j,
                           "{\"id\":\"peak\",\"title\":\"Top lines at peak\",\"empty\":\"no copy "
                           "at peak\",\"counters\":false,\"rows\":[]}"));
    assert_non_null(strstr(j, "\\ufffd"));
    free(j);
    cli_report_clear(&r);
}

static void json_tree_leaves_out_frames_too_thin_to_see_with_their_subtree(void **state) {
    (void)state;
    rcy_sample s[4];
    cli_report r = sample_report(s, 4);
    /* 300 B at exit: a 1 B stack of two frames is under 1/20000 of 40 MB */
    cli_flame_add_value(r.flame, CLI_M_EXIT_BYTES, 40000000);
    uint32_t thin = cli_frame_id(&r.frames, "thin (prog.c:20)", "thin");
    uint32_t deep = cli_frame_id(&r.frames, "deep (prog.c:21)", "deep");
    cli_flame_add_value(cli_flame_child(cli_flame_child(r.flame, thin), deep), CLI_M_EXIT_BYTES, 1);
    /* ... but a stack thin in bytes and thick in another metric stays */
    uint32_t busy = cli_frame_id(&r.frames, "busy (prog.c:30)", "busy");
    cli_flame *b = cli_flame_child(r.flame, busy);
    cli_flame_add_value(b, CLI_M_EXIT_BYTES, 1);
    cli_flame_add_value(b, CLI_M_TEMPORARY, 1000);
    char *j = render(cli_render_json, &r);
    char want[64];
    snprintf(want, sizeof want, "[0,%u,", thin);
    assert_null(strstr(j, want));
    snprintf(want, sizeof want, ",%u,0,0,0,0,0,1,", deep);
    assert_null(strstr(j, want));
    snprintf(want, sizeof want, "[0,%u,0,0,0,0,1000,1,0,0,0]", busy);
    assert_non_null(strstr(j, want));
    /* the root keeps the whole */
    assert_non_null(strstr(j, "\"tree\":[[-1,-1,0,0,7,0,1000,40000302,"));
    free(j);
    cli_report_clear(&r);
}

static void json_tree_of_a_deep_stack_needs_no_recursion(void **state) {
    (void)state;
    cli_report r = {0};
    r.flame = cli_flame_new(UINT32_MAX);
    uint32_t id = cli_frame_id(&r.frames, "f (deep.c:1)", "f");
    cli_flame *n = r.flame;
    for (int i = 0; i < 300000; i++) /* ~30 MB of C stack, were it recursive */
        n = cli_flame_child(n, id);
    cli_flame_add_value(n, CLI_M_EXIT_BYTES, 64);
    char *j = render(cli_render_json, &r);
    assert_non_null(strstr(j, "[299999,0,0,0,0,0,0,64,0,0,0]]"));
    free(j);
    cli_report_clear(&r); /* the free is not recursive either */
}

static void json_timeline_has_rss_beside_traced_memory(void **state) {
    (void)state;
    rcy_sample s[10];
    cli_report r = sample_report(s, 10);
    char *j = render(cli_render_json, &r);
    assert_null(strstr(j, "\"rss\":")); /* a file without it: no series */
    free(j);
    for (size_t i = 0; i < 10; i++)
        s[i].rss = s[i].current + 7;
    j = render(cli_render_json, &r);
    char want[64];
    snprintf(want, sizeof want, ",\"rss\":[7,%llu,", 1024ull * 1024 + 7);
    assert_non_null(strstr(j, want));
    free(j);
    cli_report_clear(&r);
}

static void json_downsamples_long_timelines_keeping_the_extremes(void **state) {
    (void)state;
    size_t n = 200000;
    rcy_sample *s = calloc(n, sizeof *s);
    cli_report r = sample_report(s, n);
    char *j = render(cli_render_json, &r);
    const char *t = strstr(j, "\"current\":[");
    assert_non_null(t);
    size_t commas = 0;
    for (const char *p = t; *p != ']'; p++)
        commas += *p == ',';
    assert_true(commas < 21000);
    /* the top of the triangle survives */
    char want[64];
    snprintf(want, sizeof want, ",%llu,", (unsigned long long)(n / 2) * 1024 * 1024);
    assert_non_null(strstr(t, want));
    free(j);
    cli_report_clear(&r);
    free(s);
}

static void svg_draws_curve_peak_and_axes(void **state) {
    (void)state;
    rcy_sample s[50];
    cli_report r = sample_report(s, 50);
    char *svg = render(cli_render_svg, &r);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(svg, "<polyline class=\"current\""));
    assert_non_null(strstr(svg, "peak 25.0 MiB at 0.250 s"));
    assert_non_null(strstr(svg, "traced memory (MiB)"));
    assert_null(strstr(svg, "class=\"rss\"")); /* no RSS in these samples */
    assert_non_null(strstr(svg, "time (s)"));
    /* the title is escaped */
    assert_non_null(strstr(svg, "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"));
    assert_non_null(strstr(svg, "</svg>\n"));
    free(svg);
    cli_report_clear(&r);
}

static void svg_draws_rss_beside_traced_memory(void **state) {
    (void)state;
    rcy_sample s[50];
    cli_report r = sample_report(s, 50);
    for (size_t i = 0; i < 50; i++)
        s[i].rss = s[i].current + 40 * 1024 * 1024;
    char *svg = render(cli_render_svg, &r);
    assert_non_null(strstr(svg, "<polyline class=\"rss\""));
    assert_non_null(strstr(svg, "<polyline class=\"current\""));
    assert_non_null(strstr(svg, ">RSS</text>"));
    /* the axis reaches the RSS (65 MiB), labelled as memory, not traced */
    assert_non_null(strstr(svg, "memory (MiB)"));
    assert_null(strstr(svg, "traced memory (MiB)"));
    assert_non_null(strstr(svg, ">60</text>"));
    free(svg);
    cli_report_clear(&r);
}

static void svg_without_samples_says_so(void **state) {
    (void)state;
    cli_report r = {0};
    char *svg = render(cli_render_svg, &r);
    assert_non_null(strstr(svg, "no timeline samples"));
    assert_null(strstr(svg, "<polyline"));
    free(svg);
}

/* The content of the first <text ...> element that holds `needle`. */
static char *svg_text_holding(const char *svg, const char *needle) {
    for (const char *open = strstr(svg, "<text"); open; open = strstr(open + 1, "<text")) {
        const char *start = strchr(open, '>') + 1, *end = strstr(start, "</text>");
        assert_non_null(end);
        char *content = strndup(start, (size_t)(end - start));
        if (strstr(content, needle))
            return content;
        free(content);
    }
    fail_msg("no <text> holds '%s'", needle);
    return NULL;
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void svg_long_title_is_shortened_to_fit_the_width(void **state) {
    (void)state;
    rcy_sample s[10];
    cli_report r = sample_report(s, 10);
    free(r.title);
    char title[700];
    int n = snprintf(title, sizeof title, "recycle: /usr/bin/first-arg");
    while (n < 600)
        n += snprintf(title + n, sizeof title - (size_t)n, " --option-%d=value", n);
    snprintf(title + n, sizeof title - (size_t)n, " last-arg.c");
    r.title = strdup(title);
    char *svg = render(cli_render_svg, &r);
    char *shown = svg_text_holding(svg, "recycle: /usr/bin/first-arg");
    /* 960 px wide at 15 px: at most ~104 characters of 0.6 em fit */
    assert_true(utf8_chars(shown) <= 104);
    assert_non_null(strstr(shown, "\xe2\x80\xa6")); /* an ellipsis marks the cut */
    size_t len = strlen(shown);
    assert_true(len > 11 && strcmp(shown + len - 11, " last-arg.c") == 0); /* the end is kept */
    free(shown);
    /* the whole title is still in the file, as the SVG's <title> */
    assert_non_null(strstr(svg, title));
    /* a title that fits is shown whole */
    cli_report_clear(&r);
    r = sample_report(s, 10);
    free(svg);
    svg = render(cli_render_svg, &r);
    shown = svg_text_holding(svg, "recycle: ./prog");
    assert_string_equal(shown, "recycle: ./prog &lt;/script&gt;&lt;b&gt;x&lt;/b&gt;");
    free(shown);
    free(svg);
    cli_report_clear(&r);
}

/* Does the segment (x0,y0)-(x1,y1) pass through the box?  Sampled finely
 * enough for a 12 px label. */
static bool segment_crosses(double x0, double y0, double x1, double y1, const double box[4]) {
    for (int k = 0; k <= 64; k++) {
        double x = x0 + (x1 - x0) * k / 64, y = y0 + (y1 - y0) * k / 64;
        if (x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3])
            return true;
    }
    return false;
}

static void svg_peak_label_stays_inside_the_plot_and_clear_of_the_curves(void **state) {
    (void)state;
    /* Traced memory rises to its peak at the right edge, RSS stays just
     * above it: beside the peak there is no room on either side. */
    rcy_sample s[50];
    cli_report r = sample_report(s, 50);
    for (size_t i = 0; i < 50; i++) {
        s[i].current = s[i].peak = i * 1024 * 1024;
        s[i].rss = 51u * 1024 * 1024;
    }
    r.peak = 49u * 1024 * 1024;
    r.peak_t = 0.49;
    char *svg = render(cli_render_svg, &r);
    /* the note: the <text> element that says "peak ..." */
    const char *label = strstr(svg, ">peak ");
    assert_non_null(label);
    while (label > svg && strncmp(label, "<text ", 6) != 0)
        label--;
    double x = 0, y = 0;
    char anchor[8] = "";
    assert_int_equal(sscanf(strstr(label, " x=\""), " x=\"%lf\"", &x), 1);
    assert_int_equal(sscanf(strstr(label, " y=\""), " y=\"%lf\"", &y), 1);
    assert_int_equal(sscanf(strstr(label, " text-anchor=\""), " text-anchor=\"%7[a-z]\"", anchor),
                     1);
    char *text = svg_text_holding(label, "peak ");
    double w = 0.6 * 12 * (double)utf8_chars(text);
    free(text);
    double box[4] = {strcmp(anchor, "end") == 0 ? x - w : x, y - 12, 0, y + 3};
    box[2] = box[0] + w;
    /* inside the plot area (90..930 x 50..420), hence the view box */
    assert_true(box[0] >= 90 && box[2] <= 930 && box[1] >= 50 && box[3] <= 420);
    /* and no curve passes through it */
    for (const char *pl = strstr(svg, "<polyline"); pl; pl = strstr(pl + 1, "<polyline")) {
        const char *p = strstr(pl, "points=\"") + 8;
        double px, py, qx, qy;
        int used = 0;
        assert_int_equal(sscanf(p, "%lf,%lf%n", &px, &py, &used), 2);
        p += used;
        while (sscanf(p, " %lf,%lf%n", &qx, &qy, &used) == 2) {
            assert_false(segment_crosses(px, py, qx, qy, box));
            px = qx, py = qy;
            p += used;
        }
    }
    free(svg);
    cli_report_clear(&r);
}

static void svg_axis_and_peak_note_use_one_unit(void **state) {
    (void)state;
    /* A peak of 5000 KiB: the axis counts in MiB, so must the note. */
    rcy_sample s[50];
    cli_report r = sample_report(s, 50);
    for (size_t i = 0; i < 50; i++)
        s[i].current = s[i].peak = i * 5000u * 1024 / 49;
    r.peak = 5000u * 1024;
    r.peak_t = 0.49;
    char *svg = render(cli_render_svg, &r);
    char *axis = svg_text_holding(svg, "traced memory (");
    char *note = svg_text_holding(svg, "peak ");
    char unit[8] = "", note_unit[8] = "";
    assert_int_equal(sscanf(axis, "traced memory (%7[A-Za-z])", unit), 1);
    assert_int_equal(sscanf(note, "peak %*f %7[A-Za-z] at", note_unit), 1);
    assert_string_equal(unit, "MiB");
    assert_string_equal(note_unit, unit);
    assert_string_equal(note, "peak 4.9 MiB at 0.490 s");
    free(axis);
    free(note);
    free(svg);
    cli_report_clear(&r);
}

static void html_is_the_template_with_the_data(void **state) {
    (void)state;
    assert_true(cli_report_template_len > 10000);
    rcy_sample s[10];
    cli_report r = sample_report(s, 10);
    char *html = render(cli_render_html, &r);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_null(strstr(html, "/*RECYCLE_DATA*/"));
    assert_non_null(
        strstr(html, "<script type=\"application/json\" id=\"recycle-data\">{\"title\":"));
    /* nothing from the network */
    assert_null(strstr(html, "src=\"http"));
    assert_null(strstr(html, "href=\"http"));
    assert_non_null(strstr(html, "</html>"));
    free(html);
    cli_report_clear(&r);
}

static void parse_long_checks_range_and_junk(void **state) {
    (void)state;
    long v = 0;
    assert_true(cli_parse_long("16", 1, 65535, &v));
    assert_int_equal(v, 16);
    assert_false(cli_parse_long("0", 1, 65535, &v));
    assert_false(cli_parse_long("70000", 1, 65535, &v));
    assert_false(cli_parse_long("12x", 1, 65535, &v));
    assert_false(cli_parse_long("", 1, 65535, &v));
    assert_false(cli_parse_long("99999999999999999999999", 1, 65535, &v));
    assert_true(cli_is_help("--help"));
    assert_true(cli_is_help("-h"));
    assert_false(cli_is_help("--hel"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elf_dynamic_program_is_hookable),
        cmocka_unit_test(elf_static_program_is_detected),
        cmocka_unit_test(elf_script_follows_its_interpreter),
        cmocka_unit_test(elf_rejects_junk_without_crashing),
        cmocka_unit_test(path_search_is_execvp_s),
        cmocka_unit_test(flame_nodes_merge_by_frame_and_sum_up_the_tree),
        cmocka_unit_test(json_is_safe_inside_a_script_element),
        cmocka_unit_test(json_has_every_part_of_the_report),
        cmocka_unit_test(json_tree_leaves_out_frames_too_thin_to_see_with_their_subtree),
        cmocka_unit_test(json_tree_of_a_deep_stack_needs_no_recursion),
        cmocka_unit_test(json_downsamples_long_timelines_keeping_the_extremes),
        cmocka_unit_test(json_timeline_has_rss_beside_traced_memory),
        cmocka_unit_test(svg_draws_curve_peak_and_axes),
        cmocka_unit_test(svg_draws_rss_beside_traced_memory),
        cmocka_unit_test(svg_without_samples_says_so),
        cmocka_unit_test(svg_long_title_is_shortened_to_fit_the_width),
        cmocka_unit_test(svg_peak_label_stays_inside_the_plot_and_clear_of_the_curves),
        cmocka_unit_test(svg_axis_and_peak_note_use_one_unit),
        cmocka_unit_test(html_is_the_template_with_the_data),
        cmocka_unit_test(parse_long_checks_range_and_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
