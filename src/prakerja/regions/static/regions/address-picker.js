// Cascading province → regency/city → district → village pickers over /api/v1/regions.
// Progressive enhancement: without JavaScript the plain 10-digit village-code input stays usable.
(function () {
  "use strict";
  const LEVELS = ["province", "regency", "district", "village"];

  async function fetchRegions(api, parent) {
    const url = parent ? `${api}/${parent}/children` : `${api}/provinces`;
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`regions ${response.status}`);
    return response.json();
  }

  function fill(select, regions, emptyLabel) {
    select.replaceChildren(new Option(emptyLabel, ""));
    for (const region of regions) {
      const option = new Option(region.name, region.code);
      option.dataset.postalCode = region.postal_code || "";
      select.append(option);
    }
    select.disabled = regions.length === 0;
  }

  function setUp(picker) {
    const api = picker.dataset.api;
    const input = picker.querySelector("input[data-village-code]");
    const label = (name) => picker.dataset[`label${name[0].toUpperCase()}${name.slice(1)}`];
    const selects = LEVELS.map((level) => {
      const caption = document.createElement("label");
      const select = document.createElement("select");
      select.id = caption.htmlFor = `${input.name}-${level}`;
      caption.textContent = label(level);
      select.name = `${input.name}_${level}`;
      select.dataset.level = level;
      select.disabled = true;
      input.closest("label").before(caption, select);
      return select;
    });
    input.closest("label").hidden = true;

    async function load(index, parent, chosen) {
      for (const later of selects.slice(index)) fill(later, [], label("choose"));
      const regions = await fetchRegions(api, parent);
      fill(selects[index], regions, label("choose"));
      if (chosen) selects[index].value = chosen;
    }

    selects.forEach((select, index) => {
      select.addEventListener("change", async () => {
        input.value = index === LEVELS.length - 1 ? select.value : "";
        picker.dispatchEvent(new CustomEvent("region-picked", { bubbles: true, detail: select.selectedOptions[0] }));
        if (index < LEVELS.length - 1 && select.value) await load(index + 1, select.value);
      });
    });

    (async () => {
      const code = input.value;
      const prefixes = code.length === 10 ? [code.slice(0, 2), code.slice(0, 4), code.slice(0, 6), code] : [];
      await load(0, null, prefixes[0]);
      for (let i = 1; i < prefixes.length; i++) await load(i, prefixes[i - 1], prefixes[i]);
    })().catch(() => {
      input.closest("label").hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-address-picker]").forEach(setUp);
  });
})();
