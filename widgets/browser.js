// almaview delivery/weblog browser (anywidget ES module).
// model traits: tree (nested {id, label, kind, key, colour, title, children}), clicked ({kind, key, n}),
// page_html (the selected weblog stage page, already made safe and self-contained by Python).

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
    const prev = model.get("clicked") || {};
    model.set("clicked", { kind: item.kind, key: item.key, n: (prev.n || 0) + 1 });
    model.save_changes();
  });
  return li;
}

function render({ model, el }) {
  el.classList.add("almaview-browser");
  const tree = document.createElement("ul");
  tree.className = "almaview-tree";
  const page = document.createElement("div");
  page.className = "almaview-page";
  const draw = () => {
    tree.replaceChildren(...(model.get("tree") || []).map((t) => node(model, t, 0)));
  };
  const show = () => {
    page.innerHTML = model.get("page_html") || "";
  };
  draw();
  show();
  model.on("change:tree", draw);
  model.on("change:page_html", show);
  el.replaceChildren(tree, page);
  return () => {
    model.off("change:tree", draw);
    model.off("change:page_html", show);
  };
}

export default { render };
