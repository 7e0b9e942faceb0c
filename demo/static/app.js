/*
 * 宝妈圈 single-page app: everything visible is rendered here from the JSON API.
 *
 *   #/            list view: cards (.card) from /api/list?page=N; the 加载更多 button
 *                 appends the next page and disappears after the last one.
 *   #/item/<id>   detail view (.detail) from /api/item/<id>.
 *
 * Text is always inserted with textContent, so injection payloads in titles show as text.
 * Plain ES5 + fetch, no build step, no CDN.
 */
(function () {
  'use strict';

  var root = document.getElementById('app');
  // The list view survives navigation to a detail view, so going back keeps loaded pages.
  var list = { view: null, cards: null, more: null, page: 0, hasMore: true, loading: false };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function getJSON(url) {
    return fetch(url, { headers: { 'Accept': 'application/json' } }).then(function (res) {
      if (!res.ok) { throw new Error(url + ' → HTTP ' + res.status); }
      return res.json();
    });
  }

  function showError(message) {
    var box = el('p', 'error', '加载失败：' + message);
    root.appendChild(box);
  }

  function renderCard(item) {
    var card = el('div', 'card');
    card.setAttribute('data-id', item.id);
    var link = el('a', 'card-title', item.title);
    link.href = '#/item/' + item.id;
    var heading = el('h3');
    heading.appendChild(link);
    card.appendChild(heading);
    card.appendChild(el('p', 'card-summary', item.summary));
    card.appendChild(el('span', 'card-time', item.time));
    return card;
  }

  function loadMore() {
    if (list.loading || !list.hasMore) { return Promise.resolve(); }
    list.loading = true;
    list.more.disabled = true;
    list.more.textContent = '加载中…';
    return getJSON('/api/list?page=' + (list.page + 1)).then(function (data) {
      data.items.forEach(function (item) { list.cards.appendChild(renderCard(item)); });
      list.page = data.page;
      list.hasMore = data.has_more;
    }).catch(function (err) {
      showError(err.message);
    }).then(function () {
      list.loading = false;
      if (list.hasMore) {
        list.more.disabled = false;
        list.more.textContent = '加载更多';
      } else {
        list.more.parentNode.replaceChild(el('p', 'end', '没有更多了'), list.more);
      }
    });
  }

  function buildList() {
    list.view = el('section', 'list-view');
    list.view.appendChild(el('h1', 'page-title', '宝妈圈 · 最新'));
    list.cards = el('div', 'cards');
    list.view.appendChild(list.cards);
    list.more = el('button', 'load-more', '加载更多');
    list.more.type = 'button';
    list.more.addEventListener('click', loadMore);
    list.view.appendChild(list.more);
  }

  function showList() {
    if (!list.view) { buildList(); }
    root.innerHTML = '';
    root.appendChild(list.view);
    if (list.page === 0) { loadMore(); }
  }

  function showItem(id) {
    root.innerHTML = '';
    var article = el('article', 'detail');
    article.setAttribute('data-id', id);
    root.appendChild(article);
    getJSON('/api/item/' + encodeURIComponent(id)).then(function (item) {
      article.appendChild(el('h1', 'detail-title', item.title));
      article.appendChild(el('div', 'detail-time', item.time));
      article.appendChild(el('div', 'detail-body', item.body));
      if (item.contact) { article.appendChild(el('div', 'detail-contact', '联系方式：' + item.contact)); }
      var back = el('a', 'back', '返回列表');
      back.href = '#/';
      article.appendChild(back);
    }).catch(function (err) {
      article.appendChild(el('p', 'error', '内容不存在或已删除（' + err.message + '）'));
    });
  }

  function route() {
    var match = /^#\/item\/(\d+)$/.exec(window.location.hash);
    if (match) { showItem(match[1]); } else { showList(); }
  }

  window.addEventListener('hashchange', route);
  route();
}());
