// Canopy console: the little script the pages use. Every page works
// without it; it only adds the Copy buttons' clipboard and nothing else.
"use strict";
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var field = document.getElementById(b.getAttribute("data-copy"));
  var status = b.closest("article, section, form, div").parentNode.querySelector(".copied");
  function done(ok) {
    if (status) status.textContent = ok ? "Copied to the clipboard." : "Select the text and copy it.";
  }
  field.focus();
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(document.execCommand("copy")); });
  } else {
    done(document.execCommand("copy"));
  }
});
