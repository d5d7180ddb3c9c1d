// Settings -> API: the copy button and the delete confirmation.
document.addEventListener("DOMContentLoaded", function () {
  var copy = document.getElementById("copy");
  if (copy) {
    copy.addEventListener("click", function () {
      var field = document.getElementById(copy.dataset.copyFrom);
      var status = document.getElementById("copy-status");
      var done = function () { status.textContent = "Copied"; copy.dataset.copied = "yes"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select();
          status.textContent = document.execCommand("copy") ? "Copied" : "Select the token and copy it";
        });
      } else {
        field.select();
        if (document.execCommand("copy")) { done(); } else { status.textContent = "Select the token and copy it"; }
      }
    });
  }
  document.querySelectorAll("form.delete").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
});
