/* flame: "sentryprof flame [--reverse] [--html] [FILTERS] -o OUT [FILE|DIR...]". Owns the
 * flame graph: one self-contained SVG (no external file, font or script) of the model's
 * selected samples, every thread merged under "all". Frame width = samples the function is
 * on at that stack position; children in label order (like flamegraph.pl); frames under
 * 0.1 px are left out. Colours: JS warm (yellow-orange), native blue, V8 builtins
 * (Builtins_*) green, "(idle)"/"(native)" grey. The embedded script: hover shows name,
 * file:line, samples and share; click zooms to a frame (its ancestors dimmed, Escape or
 * "Reset zoom" undoes); "Search" (or / or Ctrl-F) highlights the frames whose name matches
 * a regular expression and says what share of the samples they cover. --reverse draws an
 * icicle keyed by leaf function (leaves on top, callers below). --html: one HTML page with
 * the graph inline and the top table under it. Every attribute value and text is XML-escaped
 * (names come from perf maps and ELF symbols). Single-threaded.
 */
#include "export.h"

#include "mem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FL_WIDTH 1200 /* px */
#define FL_PAD 10
#define FL_FRAME_H 16
#define FL_HEAD 64
#define FL_FOOT 28
#define FL_CHAR_W 7.0  /* px per character of the 12 px monospace labels */
#define FL_MIN_W 0.1   /* px: narrower frames are left out */

static void xml_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&') fputs("&amp;", out);
        else if (c == '<') fputs("&lt;", out);
        else if (c == '>') fputs("&gt;", out);
        else if (c == '"') fputs("&quot;", out);
        else if (c == '\'') fputs("&#39;", out);
        else if (c < 0x20 && c != '\t') fputc('?', out); /* not allowed in XML 1.0 */
        else fputc(c, out);
    }
}

/* Up to n characters of s ("..": cut), escaped; UTF-8 sequences are never split. */
static void xml_escape_cut(FILE *out, const char *s, size_t n)
{
    size_t chars = 0, len = strlen(s), total = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) total++;
    if (total <= n) {
        xml_escape(out, s);
        return;
    }
    if (n < 3) return;
    char *cut = sp_cli_strdup(s);
    size_t i = 0;
    for (; i < len; i++) {
        if (((unsigned char)cut[i] & 0xC0) != 0x80 && chars++ == n - 2) break;
    }
    cut[i] = '\0';
    xml_escape(out, cut);
    fputs("..", out);
    sp_mem_free(cut);
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static const char *fn_family(const sp_model_fn_t *f)
{
    if (!f) return "pseudo";
    switch (f->kind) {
    case SP_MODEL_JS: return "js";
    case SP_MODEL_PSEUDO: return "pseudo";
    default: return f->builtin ? "builtin" : "native";
    }
}

/* A colour of the frame's family, varied by its name so neighbours differ. */
static void fn_colour(const sp_model_fn_t *f, char *buf, size_t len)
{
    uint32_t h = name_hash(f ? f->name : "all");
    double v1 = (double)(h & 0xff) / 255.0, v2 = (double)((h >> 8) & 0xff) / 255.0;
    const char *fam = fn_family(f);
    int r, g, b;
    if (strcmp(fam, "js") == 0) r = 225 + (int)(30 * v1), g = 130 + (int)(90 * v2), b = 40 + (int)(40 * v1);
    else if (strcmp(fam, "native") == 0) r = 90 + (int)(50 * v1), g = 140 + (int)(50 * v2), b = 210 + (int)(45 * v1);
    else if (strcmp(fam, "builtin") == 0) r = 80 + (int)(50 * v1), g = 185 + (int)(55 * v2), b = 90 + (int)(40 * v1);
    else r = g = b = 190 + (int)(20 * v1);
    snprintf(buf, len, "rgb(%d,%d,%d)", r & 0xff, g & 0xff, b & 0xff); /* each 0..255 */
}

typedef struct {
    const sp_model_t *m;
    char **labels; /* per function */
    char **places; /* per function: "file:line", "module" or "" */
} names_t;

static int cmp_by_label(uint32_t a, uint32_t b, void *arg)
{
    names_t *n = arg;
    return strcmp(n->labels[a], n->labels[b]);
}

static const char flame_js[] =
    "(function(){\n"
    "var svg=document.getElementById('sp-flame');\n"
    "var W=+svg.getAttribute('data-width'),PAD=+svg.getAttribute('data-pad'),total=+svg.getAttribute('data-total');\n"
    "var frames=[].slice.call(svg.querySelectorAll('g.f'));\n"
    "var details=svg.querySelector('#sp-details'),matched=svg.querySelector('#sp-matched'),reset=svg.querySelector('#sp-reset');\n"
    "function num(g,k){return +g.getAttribute(k);}\n"
    "function info(g){var s=num(g,'data-s'),f=g.getAttribute('data-f');\n"
    "  return g.getAttribute('data-n')+(f?'  '+f:'')+'  '+s+(s==1?' sample, ':' samples, ')+(100*s/total).toFixed(2)+'%';}\n"
    "function fit(g){var r=g.querySelector('rect'),t=g.querySelector('text'),n=g.getAttribute('data-n');\n"
    "  var c=Math.floor((+r.getAttribute('width')-6)/7);\n"
    "  t.textContent=c<3?'':(n.length<=c?n:n.slice(0,c-2)+'..');t.setAttribute('x',+r.getAttribute('x')+3);}\n"
    "function zoom(z){var zx=z?num(z,'data-x'):0,zs=z?num(z,'data-s'):total,zd=z?num(z,'data-d'):0,sc=(W-2*PAD)/zs;\n"
    "  frames.forEach(function(g){var x=num(g,'data-x'),s=num(g,'data-s'),d=num(g,'data-d'),r=g.querySelector('rect');\n"
    "    var inside=x>=zx&&x+s<=zx+zs&&d>=zd,above=d<zd&&x<=zx&&x+s>=zx+zs;\n"
    "    var nx=above?PAD:PAD+(x-zx)*sc,nw=above?W-2*PAD:s*sc;\n"
    "    if((!inside&&!above)||nw<0.1){g.style.display='none';return;}\n"
    "    g.style.display='';g.style.opacity=above?0.6:1;\n"
    "    r.setAttribute('x',nx.toFixed(2));r.setAttribute('width',nw.toFixed(2));fit(g);});\n"
    "  reset.style.display=z?'':'none';}\n"
    "function search(re){var hits=[];\n"
    "  frames.forEach(function(g){var r=g.querySelector('rect');\n"
    "    if(!r.hasAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));\n"
    "    var m=!!re&&re.test(g.getAttribute('data-n'));\n"
    "    r.setAttribute('fill',m?'rgb(230,0,230)':r.getAttribute('data-fill'));\n"
    "    if(m)hits.push([num(g,'data-x'),num(g,'data-x')+num(g,'data-s')]);});\n"
    "  hits.sort(function(a,b){return a[0]-b[0];});var cov=0,end=-1;\n"
    "  hits.forEach(function(h){if(h[0]>=end){cov+=h[1]-h[0];end=h[1];}else if(h[1]>end){cov+=h[1]-end;end=h[1];}});\n"
    "  matched.textContent=re?'Matched: '+(100*cov/total).toFixed(1)+'%':'';}\n"
    "function ask(){var t=window.prompt('Search function names (regular expression)','');if(t===null)return;\n"
    "  if(!t){search(null);return;}\n"
    "  var re;try{re=new RegExp(t,'i');}catch(e){re=new RegExp(t.replace(/[.*+?^${}()|[\\]\\\\]/g,'\\\\$&'),'i');}search(re);}\n"
    "svg.addEventListener('mouseover',function(e){var g=e.target.closest&&e.target.closest('g.f');if(g)details.textContent=info(g);});\n"
    "svg.addEventListener('mouseout',function(e){var g=e.target.closest&&e.target.closest('g.f');if(g)details.textContent=' ';});\n"
    "svg.addEventListener('click',function(e){var g=e.target.closest&&e.target.closest('g.f');if(g)zoom(g);});\n"
    "reset.addEventListener('click',function(e){e.stopPropagation();zoom(null);});\n"
    "svg.querySelector('#sp-search').addEventListener('click',function(e){e.stopPropagation();ask();});\n"
    "document.addEventListener('keydown',function(e){\n"
    "  if(((e.ctrlKey||e.metaKey)&&e.key=='f')||e.key=='/'){e.preventDefault();ask();}\n"
    "  else if(e.key=='Escape'){zoom(null);search(null);}});\n"
    "var q=/[?&]s=([^&]*)/.exec(window.location.search||'');if(q)search(new RegExp(decodeURIComponent(q[1]),'i'));\n"
    "})();\n";

/* The SVG's opening, style, title, buttons and colour legend. */
static void write_svg_head(FILE *out, int height, uint64_t total_samples, bool reverse, const char *title, bool inline_html)
{
    if (!inline_html) fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
    fprintf(out,
            "<svg version=\"1.1\" id=\"sp-flame\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" data-width=\"%d\" data-pad=\"%d\" data-total=\"%llu\" data-reverse=\"%d\">\n",
            FL_WIDTH, height, FL_WIDTH, height, FL_WIDTH, FL_PAD, (unsigned long long)total_samples, reverse ? 1 : 0);
    fputs("<style>text{font-family:monospace;font-size:12px;fill:#000}g.f{cursor:pointer}g.f:hover rect{stroke:#000;"
          "stroke-width:0.5}#sp-title{font-size:17px}.btn{cursor:pointer;fill:#333;text-decoration:underline}</style>\n",
          out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n", FL_WIDTH, height);
    fprintf(out, "<text id=\"sp-title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", FL_WIDTH / 2);
    xml_escape(out, title);
    fputs("</text>\n", out);
    fprintf(out, "<text id=\"sp-reset\" class=\"btn\" x=\"%d\" y=\"24\" style=\"display:none\">Reset zoom</text>\n", FL_PAD);
    fprintf(out, "<text id=\"sp-search\" class=\"btn\" x=\"%d\" y=\"24\" text-anchor=\"end\">Search</text>\n",
            FL_WIDTH - FL_PAD);
    fprintf(out, "<text id=\"sp-matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n", FL_WIDTH - FL_PAD, height - 10);
    /* legend: the colour families */
    static const struct { const char *name, *fam; } legend[] = {
        {"JS", "js"}, {"native", "native"}, {"V8 builtin", "builtin"}, {"idle / other", "pseudo"}};
    int lx = FL_PAD;
    for (size_t i = 0; i < sizeof legend / sizeof *legend; i++) {
        sp_model_fn_t probe = {.name = (char *)"legend", .kind = strcmp(legend[i].fam, "js") == 0 ? SP_MODEL_JS
                                                              : strcmp(legend[i].fam, "pseudo") == 0 ? SP_MODEL_PSEUDO
                                                                                                      : SP_MODEL_NATIVE,
                               .builtin = strcmp(legend[i].fam, "builtin") == 0};
        char col[48];
        fn_colour(&probe, col, sizeof col);
        fprintf(out, "<rect x=\"%d\" y=\"36\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"46\">%s</text>\n",
                lx, col, lx + 16, legend[i].name);
        lx += 16 + (int)(strlen(legend[i].name) * FL_CHAR_W) + 20;
    }
    fprintf(out, "<text x=\"%d\" y=\"46\">%s; click a frame to zoom, / to search</text>\n", lx + 20,
            reverse ? "icicle: leaf functions on top, their callers below" : "callers below, callees above");
    fprintf(out, "<text id=\"sp-details\" x=\"%d\" y=\"%d\"> </text>\n", FL_PAD, height - 10);

}

/* One frame: a group with its name, place, kind, samples, depth and x (read by the
 * script), a tooltip, the rectangle and its clipped label. */
static void write_frame(FILE *out, const names_t *nm, const sp_model_fn_t *f, const sp_model_node_t *nd, uint64_t x,
                        double scale, double total, bool reverse, int height)
{
    const char *label = f ? nm->labels[nd->fn] : "all";
    double w = (double)nd->total * scale;
    double px = FL_PAD + (double)x * scale;
    int y = reverse ? FL_HEAD + (int)nd->depth * FL_FRAME_H : height - FL_FOOT - (int)(nd->depth + 1) * FL_FRAME_H;
    char col[48];
    fn_colour(f, col, sizeof col);
    fprintf(out, "<g class=\"f\" data-n=\"");
    xml_escape(out, label);
    fputs("\" data-f=\"", out);
    xml_escape(out, f ? nm->places[nd->fn] : "");
    fprintf(out, "\" data-k=\"%s\" data-s=\"%llu\" data-d=\"%u\" data-x=\"%llu\"><title>", f ? fn_family(f) : "all",
            (unsigned long long)nd->total, nd->depth, (unsigned long long)x);
    xml_escape(out, label);
    fprintf(out, " (%llu %s, %.2f%%)</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" fill=\"%s\"/>",
            (unsigned long long)nd->total, nd->total == 1 ? "sample" : "samples", 100.0 * (double)nd->total / total,
            px, y, w, FL_FRAME_H - 1, col);
    fprintf(out, "<text x=\"%.2f\" y=\"%d\">", px + 3, y + FL_FRAME_H - 4);
    double chars = (w - 6) / FL_CHAR_W;
    xml_escape_cut(out, label, chars > 0 ? (size_t)chars : 0);
    fputs("</text></g>\n", out);
}

static void write_svg(const sp_model_t *m, FILE *out, bool reverse, const char *title, bool inline_html)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    names_t nm = {m, sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof(char *)), sp_cli_calloc(m->nfn ? m->nfn : 1, sizeof(char *))};
    for (size_t i = 0; i < m->nfn; i++) {
        const sp_model_fn_t *f = &m->fn[i];
        nm.labels[i] = sp_model_label(f, cwd);
        char *p = sp_model_short_path(f, cwd);
        nm.places[i] = f->kind == SP_MODEL_JS && *p && f->line >= 0 ? sp_cli_printf("%s:%ld", p, f->line) : sp_cli_strdup(p);
        sp_mem_free(p);
    }
    sp_model_tree_t t;
    sp_model_tree(m, -1, reverse, &t);
    sp_model_tree_sort(&t, cmp_by_label, &nm);
    uint32_t maxd = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.node[i].depth > maxd) maxd = t.node[i].depth;
    double total = (double)(t.node[0].total ? t.node[0].total : 1);
    double scale = (FL_WIDTH - 2.0 * FL_PAD) / total;
    int height = FL_HEAD + (int)(maxd + 1) * FL_FRAME_H + FL_FOOT;

    write_svg_head(out, height, t.node[0].total, reverse, title, inline_html);

    /* depth-first, children in label order; x in samples */
    uint64_t *xoff = sp_cli_calloc(t.n, sizeof *xoff);
    uint32_t *todo = sp_cli_calloc(t.n, sizeof *todo);
    size_t ntodo = 0;
    todo[ntodo++] = 0;
    fputs("<g id=\"sp-frames\">\n", out);
    while (ntodo) {
        uint32_t i = todo[--ntodo];
        const sp_model_node_t *nd = &t.node[i];
        double w = (double)nd->total * scale;
        if (w < FL_MIN_W) continue; /* and its descendants, which are no wider */
        uint64_t x = xoff[i];
        const sp_model_fn_t *f = nd->fn == UINT32_MAX ? NULL : &m->fn[nd->fn];
        write_frame(out, &nm, f, nd, x, scale, total, reverse, height);
        /* children: push in reverse so the first in label order is drawn first */
        size_t first = ntodo;
        uint64_t cx = x;
        for (uint32_t c = nd->first_child; c != UINT32_MAX; c = t.node[c].next_sibling) {
            xoff[c] = cx;
            cx += t.node[c].total;
            todo[ntodo++] = c;
        }
        for (size_t a = first, b = ntodo; a + 1 < b; a++, b--) {
            uint32_t tmp = todo[a];
            todo[a] = todo[b - 1];
            todo[b - 1] = tmp;
        }
    }
    fputs("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n", out);
    fputs(flame_js, out);
    fputs("]]></script>\n</svg>\n", out);
    sp_mem_free(xoff);
    sp_mem_free(todo);
    sp_model_tree_free(&t);
    for (size_t i = 0; i < m->nfn; i++) {
        sp_mem_free(nm.labels[i]);
        sp_mem_free(nm.places[i]);
    }
    sp_mem_free(nm.labels);
    sp_mem_free(nm.places);
}

static void write_html(const sp_model_t *m, FILE *out, bool reverse, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", out);
    xml_escape(out, title);
    fputs("</title>\n<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse;font-family:monospace}"
          "td,th{padding:2px 10px;text-align:right}td:last-child,th:last-child{text-align:left}"
          "tr:nth-child(even){background:#f2f2f2}</style></head>\n<body>\n",
          out);
    write_svg(m, out, reverse, title, true);
    fprintf(out, "<h2>Top functions</h2>\n<p>%llu %s, %llu %s, %zu %s, threads:", (unsigned long long)m->files,
            m->files == 1 ? "file" : "files", (unsigned long long)m->items, m->items == 1 ? "chunk" : "chunks",
            m->nsamples, m->nsamples == 1 ? "sample" : "samples");
    /* the thread list, escaped: print it to memory first */
    char *buf = NULL;
    size_t blen = 0;
    FILE *mem = open_memstream(&buf, &blen);
    if (mem) {
        sp_cli_top_threads(m, mem);
        fclose(mem);
        if (blen && buf[blen - 1] == '\n') buf[blen - 1] = '\0';
        xml_escape(out, buf);
    }
    free(buf); /* open_memstream's buffer is libc's */
    fputs("</p>\n<table id=\"sp-top\">\n<tr><th>SELF%</th><th>SELF</th><th>TOTAL%</th><th>TOTAL</th><th>FUNCTION</th></tr>\n",
          out);
    sp_cli_top_row_t *rows;
    size_t n = sp_cli_top_rows(m, false, SP_CLI_TOP_BY_FUNCTION, &rows);
    double all = m->nsamples ? (double)m->nsamples : 1.0;
    for (size_t r = 0; r < n; r++) {
        fprintf(out, "<tr><td>%.2f%%</td><td>%llu</td><td>%.2f%%</td><td>%llu</td><td>", 100.0 * (double)rows[r].self / all,
                (unsigned long long)rows[r].self, 100.0 * (double)rows[r].total / all, (unsigned long long)rows[r].total);
        xml_escape(out, rows[r].label);
        fputs("</td></tr>\n", out);
    }
    sp_cli_top_rows_free(rows, n);
    fputs("</table>\n</body></html>\n", out);
}

int sp_export_flame_file(const sp_model_t *m, const char *path, const char *title)
{
    char *tmp;
    FILE *f = sp_export_open(path, &tmp);
    if (!f) return -1;
    write_svg(m, f, false, title, false);
    return sp_export_close(f, path, tmp, !ferror(f));
}

int sp_cli_flame(int argc, char **argv)
{
    sp_model_t m = {0};
    sp_model_filter_t filt = {0};
    sp_cli_strvec_t paths = {0};
    const char *outp = NULL, *title = NULL;
    bool reverse = false, html = false, opts = true;
    char *deftitle = NULL;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int fr;
        if (!opts || a[0] != '-' || !a[1]) {
            sp_cli_strvec_push(&paths, sp_cli_strdup(a));
        } else if (strcmp(a, "--") == 0) {
            opts = false;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sp_cli_usage(stdout);
            goto out;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            outp = i + 1 < argc ? argv[++i] : "";
        } else if (strncmp(a, "--output=", 9) == 0) {
            outp = a + 9;
        } else if (strcmp(a, "--title") == 0 || strncmp(a, "--title=", 8) == 0) {
            title = a[7] ? a + 8 : (i + 1 < argc ? argv[++i] : "");
        } else if (strcmp(a, "--reverse") == 0) {
            reverse = true;
        } else if (strcmp(a, "--html") == 0) {
            html = true;
        } else if ((fr = sp_model_filter_arg(&filt, "flame", argc, argv, &i)) != 0) {
            if (fr < 0) {
                rc = 2;
                goto out;
            }
        } else {
            rc = sp_cli_bad_usage("flame: unknown option '%s'", a);
            goto out;
        }
    }
    if (!outp || !*outp) {
        rc = sp_cli_bad_usage("flame: -o OUT is required (- for standard output)");
        goto out;
    }
    if (sp_model_load_selected(&m, &paths, &filt) < 0) {
        rc = 1;
        goto out;
    }
    if (!title) {
        deftitle = sp_cli_printf("%s: %zu samples%s%s", reverse ? "Icicle graph" : "Flame graph", m.nsamples,
                                 filt.transaction ? ", transaction " : "", filt.transaction ? filt.transaction : "");
        title = deftitle;
    }
    char *tmp;
    FILE *f = sp_export_open(outp, &tmp);
    if (!f) {
        rc = 1;
        goto out;
    }
    if (html) write_html(&m, f, reverse, title);
    else write_svg(&m, f, reverse, title, false);
    if (sp_export_close(f, outp, tmp, !ferror(f)) < 0) rc = 1;
out:
    sp_mem_free(deftitle);
    sp_cli_strvec_free(&paths);
    sp_model_free(&m);
    return rc;
}
