// Haven's proof of work for the request form (security/pow.py), our own and nothing else's.
// It looks for a counter such that SHA-256(token + counter) starts with `bits` zero bits and puts it in
// the form, so the form can be sent at once instead of after the wait that applies without JavaScript.
// Where it cannot run (no crypto.subtle), it does nothing: the page works exactly as with JavaScript off.
(function () {
  "use strict";

  var box = document.getElementById("pow");
  var cryptoApi = window.crypto && window.crypto.subtle;
  if (!box || !cryptoApi || !window.TextEncoder || !window.Promise) {
    return;
  }
  var form = box.closest("form");
  var notice = document.getElementById("pow-notice");
  var progress = document.getElementById("pow-progress");
  var withoutScript = notice.textContent;
  var prefix = new TextEncoder().encode(form.elements.pow_token.value);
  var bits = parseInt(box.dataset.bits, 10);
  var expected = Math.pow(2, bits);
  var solved = false;
  var waited = false;
  var pending = false; // the requester pressed send before the check was done
  var sent = false;

  function say(text) {
    notice.textContent = text;
  }

  function startsWithZeroBits(bytes) {
    var left = bits;
    var i = 0;
    for (; left >= 8; left -= 8, i += 1) {
      if (bytes[i] !== 0) {
        return false;
      }
    }
    return left === 0 || bytes[i] >> (8 - left) === 0;
  }

  function candidate(counter) {
    var digits = String(counter);
    var data = new Uint8Array(prefix.length + digits.length);
    data.set(prefix);
    for (var i = 0; i < digits.length; i += 1) {
      data[prefix.length + i] = digits.charCodeAt(i);
    }
    return data;
  }

  function send() {
    if (form.requestSubmit) {
      form.requestSubmit();
    } else {
      sent = true;
      form.submit();
    }
  }

  function ready() {
    progress.hidden = true;
    if (pending) {
      send();
    } else {
      say(box.dataset.ready);
    }
  }

  // Hashes go out in batches and the page gets a turn between them, so typing never stutters.
  function solve(counter) {
    var batch = [];
    for (var i = 0; i < 512; i += 1) {
      batch.push(cryptoApi.digest("SHA-256", candidate(counter + i)));
    }
    return Promise.all(batch).then(function (digests) {
      for (var j = 0; j < digests.length; j += 1) {
        if (startsWithZeroBits(new Uint8Array(digests[j]))) {
          return counter + j;
        }
      }
      var tried = counter + digests.length;
      progress.value = 1 - Math.exp(-tried / expected);
      return new Promise(function (resume) {
        setTimeout(resume, 0);
      }).then(function () {
        return solved || waited ? null : solve(tried);
      });
    });
  }

  form.addEventListener("submit", function (event) {
    if (sent) {
      event.preventDefault(); // a second press would replace the answer that carries the receipt
      return;
    }
    if (solved || waited) {
      sent = true;
      return;
    }
    event.preventDefault();
    pending = true;
    say(box.dataset.sending);
  });

  // Back to this page from the history: it may be sent again.
  window.addEventListener("pageshow", function () {
    sent = false;
  });

  setTimeout(function () {
    waited = true;
    if (!solved) {
      ready();
    }
  }, parseInt(box.dataset.wait, 10) * 1000);

  say(box.dataset.working);
  progress.hidden = false;
  solve(0).then(
    function (found) {
      if (found !== null) {
        form.elements.pow_solution.value = String(found);
        solved = true;
        if (!waited) {
          ready();
        }
      }
    },
    function () {
      // No hashing after all: the wait applies, as without JavaScript.
      progress.hidden = true;
      if (!waited) {
        say(withoutScript);
      }
    }
  );
})();
