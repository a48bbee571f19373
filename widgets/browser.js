// almaview delivery/weblog browser (anywidget ES module).
// model traits: tree (nested {id, label, kind, key, colour, title, children}), clicked ({kind, key, n}: what the
// user asked for), page_html (the weblog page as a whole document, sanitised by Python: shown in a sandboxed frame,
// never inserted into this page), page_title, nav ([{label, key}]: Home / Overview / By Task of the weblog shown),
// plot ({src, name}: a weblog plot to show large).
//
// The frame is sandboxed WITHOUT allow-scripts (nothing from a package runs) and its document carries a content
// security policy that loads nothing from any network. allow-same-origin only lets this module follow the page's
// links itself: a click on a link asks Python for that weblog page (or plot) instead of navigating the frame.

const FRAME_SANDBOX = "allow-same-origin";

function send(model, kind, key) {
  const prev = model.get("clicked") || {};
  model.set("clicked", { kind, key, n: (prev.n || 0) + 1 });
  model.save_changes();
}

function node(model, item, depth) {
  const li = document.createElement("li");
  li.className = `almaview-node almaview-kind-${item.kind}`;
  const row = document.createElement("div");
  row.className = "almaview-row";
  row.style.paddingLeft = `${depth * 14}px`;
  const kids = item.children || [];
  const twist = document.createElement("span");
  twist.className = "almaview-twist";
  twist.textContent = kids.length ? (depth < 2 ? "▾" : "▸") : "·";
  row.appendChild(twist);
  if (item.colour) {
    const dot = document.createElement("span");
    dot.className = "almaview-qa-dot";
    dot.style.background = item.colour;
    dot.title = item.title || "";
    row.appendChild(dot);
  }
  const label = document.createElement("span");
  label.className = "almaview-label";
  label.textContent = item.label;
  label.title = item.title || item.label;
  label.dataset.key = item.key || "";
  row.appendChild(label);
  li.appendChild(row);
  let ul = null;
  if (kids.length) {
    ul = document.createElement("ul");
    ul.className = "almaview-children";
    ul.style.display = depth < 2 ? "" : "none";
    for (const k of kids) ul.appendChild(node(model, k, depth + 1));
    li.appendChild(ul);
  }
  twist.addEventListener("click", (ev) => {
    ev.stopPropagation();
    if (!ul) return;
    const open = ul.style.display === "none";
    ul.style.display = open ? "" : "none";
    twist.textContent = open ? "▾" : "▸";
  });
  label.addEventListener("click", (ev) => {
    ev.stopPropagation();
    if (!item.key) return;
    for (const el of li.getRootNode().querySelectorAll(".almaview-row.almaview-selected"))
      el.classList.remove("almaview-selected");
    row.classList.add("almaview-selected");
    send(model, item.kind, item.key);
  });
  return li;
}

function button(text, title, onclick) {
  const b = document.createElement("button");
  b.className = "almaview-nav-button";
  b.textContent = text;
  b.title = title;
  b.addEventListener("click", onclick);
  return b;
}

function render({ model, el }) {
  el.classList.add("almaview-browser");
  const side = document.createElement("div");
  side.className = "almaview-side";
  const tree = document.createElement("ul");
  tree.className = "almaview-tree";
  side.appendChild(tree);

  const main = document.createElement("div");
  main.className = "almaview-main";
  const bar = document.createElement("div");
  bar.className = "almaview-navbar";
  const title = document.createElement("span");
  title.className = "almaview-page-title";
  const frame = document.createElement("iframe");
  frame.className = "almaview-page-frame";
  frame.setAttribute("sandbox", FRAME_SANDBOX);
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.title = "weblog page";
  main.append(bar, frame);

  const overlay = document.createElement("div");
  overlay.className = "almaview-lightbox";
  overlay.style.display = "none";
  const big = document.createElement("img");
  big.className = "almaview-lightbox-image";
  const caption = document.createElement("div");
  caption.className = "almaview-lightbox-caption";
  overlay.append(big, caption);
  const closeLightbox = () => {
    overlay.style.display = "none";
    big.removeAttribute("src");
  };
  const openLightbox = (src, name) => {
    if (!src || !src.startsWith("data:image/")) return; // only what Python inlined
    big.src = src;
    caption.textContent = name || "";
    overlay.style.display = "";
  };
  overlay.addEventListener("click", closeLightbox);
  const onKey = (ev) => {
    if (ev.key === "Escape") closeLightbox();
  };
  document.addEventListener("keydown", onKey);

  const toggle = button("☰", "show or hide the package tree", () => {
    side.classList.toggle("almaview-side-hidden");
  });

  const drawTree = () => {
    tree.replaceChildren(...(model.get("tree") || []).map((t) => node(model, t, 0)));
  };
  const drawNav = () => {
    const items = (model.get("nav") || []).map((n) =>
      button(n.label, `weblog: ${n.key}`, () => send(model, "link", n.key)),
    );
    const back = button("◀", "back to the previous weblog page", () => send(model, "back", "back"));
    title.textContent = model.get("page_title") || "";
    bar.replaceChildren(toggle, back, ...items, title);
  };

  // Follow the page's links ourselves: a weblog page -> Python renders it; a plot -> shown large.
  const onFrameClick = (ev) => {
    const target = ev.target;
    if (!target || !target.closest) return;
    const link = target.closest("a[href]");
    const img = target.closest("img");
    if (link) {
      ev.preventDefault();
      send(model, "link", link.getAttribute("href"));
    } else if (img) {
      ev.preventDefault();
      openLightbox(img.getAttribute("src"), img.getAttribute("alt"));
    }
  };
  const onFrameLoad = () => {
    const doc = frame.contentDocument;
    if (doc) {
      doc.addEventListener("click", onFrameClick);
      doc.addEventListener("keydown", onKey); // focus is in the frame after a click on its plot
    }
  };
  frame.addEventListener("load", onFrameLoad);
  const showPage = () => {
    const html = model.get("page_html") || "";
    main.classList.toggle("almaview-main-empty", !html);
    frame.srcdoc = html; // a whole document in a sandboxed frame, never parsed into this page
    drawNav();
  };
  const showPlot = () => {
    const p = model.get("plot") || {};
    if (p.src) openLightbox(p.src, p.name);
  };

  drawTree();
  showPage();
  model.on("change:tree", drawTree);
  model.on("change:page_html", showPage);
  model.on("change:page_title", drawNav);
  model.on("change:nav", drawNav);
  model.on("change:plot", showPlot);
  el.replaceChildren(side, main, overlay);
  return () => {
    model.off("change:tree", drawTree);
    model.off("change:page_html", showPage);
    model.off("change:page_title", drawNav);
    model.off("change:nav", drawNav);
    model.off("change:plot", showPlot);
    document.removeEventListener("keydown", onKey);
    frame.removeEventListener("load", onFrameLoad);
  };
}

export default { render };
