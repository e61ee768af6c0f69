CREATE (:A {name: 'x'});
CREATE (:B {name: 'y});
